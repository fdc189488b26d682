"""Other Fabric tools work with what CareLedger gives a user: the `peer` CLI invokes and queries the
chaincode with a member's exported MSP folder (`careledger wallet export`) and nothing but the connection
profile's peers, orderers and TLS certificates."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from careledger.cli import main
from careledger_network.network import Network
from click.testing import CliRunner

pytestmark = pytest.mark.network
USER = "h1-clinician-1"


def _peer_cli(
    network: Network,
    msp: Path,
    profile: dict,
    tmp_path: Path,
    *args: str,  # type: ignore[type-arg]
) -> subprocess.CompletedProcess[str]:
    org = profile["organizations"][profile["client"]["organization"]]
    own_peer = profile["peers"][org["peers"][0]]
    env = {
        **os.environ,
        "FABRIC_CFG_PATH": str(network.state / "config" / "cli"),  # core.yaml defaults only
        "FABRIC_LOGGING_SPEC": "info",  # the invoke reports its success at INFO
        "CORE_PEER_TLS_ENABLED": "true",
        "CORE_PEER_LOCALMSPID": org["mspid"],
        "CORE_PEER_MSPCONFIGPATH": str(msp),
        "CORE_PEER_ADDRESS": own_peer["url"].split("://", 1)[-1],
        "CORE_PEER_TLS_ROOTCERT_FILE": str(_pem(tmp_path, "own-peer", own_peer["tlsCACerts"]["pem"])),
    }
    done = subprocess.run([network.fabric.bin("peer"), *args], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def _pem(folder: Path, name: str, pem: str) -> Path:
    path = folder / f"{name}.pem"
    path.write_text(pem)
    return path


def test_the_peer_cli_invokes_with_an_exported_identity_and_the_profile(network: Network, tmp_path: Path) -> None:
    exported = tmp_path / "exported"
    result = CliRunner().invoke(
        main,
        ["--org", "hospital1", "--user", USER, "--json", "wallet", "export", str(exported)],
        env={"CARELEDGER_STATE": str(network.state)},
    )
    assert result.exit_code == 0, result.output
    assert "unprotected" in result.output  # the warning (stderr)
    msp = exported / "msp"
    profile = json.loads((network.state / "profiles" / "hospital1.json").read_text())
    channel = profile["x-careledger"]["channel"]
    orderer = next(iter(profile["orderers"].values()))
    assert profile["channels"][channel]["orderers"]
    targets: list[str] = []
    for name, peer in profile["peers"].items():
        targets += ["--peerAddresses", peer["url"].split("://", 1)[-1]]
        targets += ["--tlsRootCertFiles", str(_pem(tmp_path, name, peer["tlsCACerts"]["pem"]))]
    chaincode = profile["x-careledger"]["chaincode"]
    invoke = ["chaincode", "invoke", "-o", orderer["url"].split("://", 1)[-1], "--tls"]
    invoke += ["--cafile", str(_pem(tmp_path, "orderer", orderer["tlsCACerts"]["pem"]))]
    # No --waitForEvent: our channel lets only block readers stream events (block_access.py), not clinicians.
    invoke += ["-C", channel, "-n", chaincode, "-c", json.dumps({"Args": ["WhoAmI"]}), *targets]
    assert "Chaincode invoke successful" in _peer_cli(network, msp, profile, tmp_path, *invoke).stderr
    query = ["chaincode", "query", "-C", channel, "-n", chaincode, "-c", json.dumps({"Args": ["WhoAmI"]})]
    who = json.loads(_peer_cli(network, msp, profile, tmp_path, *query).stdout)
    assert (who["org"], who["role"]) == ("Hospital1MSP", "clinician")


def test_get_metadata_answers_other_tools_through_the_gateway(network: Network) -> None:
    from careledger.connection import connect

    with connect(network.state / "profiles" / "hospital2.json", "h2-clinician-1") as gateway:
        contract = gateway.network(network.c.channel).contract(network.c.chaincode_name, "org.hyperledger.fabric")
        metadata = json.loads(contract.evaluate_transaction("GetMetadata"))
    assert metadata["default"] == "careledger"
    assert any(t["name"] == "RequestAccess" for t in metadata["contracts"]["careledger"]["transactions"])
