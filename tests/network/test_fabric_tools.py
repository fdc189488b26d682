"""Other Fabric tools work with what CareLedger gives a user: the `peer` CLI and the official Node client
(@hyperledger/fabric-gateway) call the CareLedger chaincode with a member's exported MSP folder
(`careledger wallet export`) and nothing but the connection profile's peers, orderers and TLS certificates."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from careledger.cli import main
from careledger_bench.node import NODE_DIR, NodeUnavailable, ensure_installed
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


def _export(network: Network, into: Path) -> Path:
    result = CliRunner().invoke(
        main,
        ["--org", "hospital1", "--user", USER, "--json", "wallet", "export", str(into)],
        env={"CARELEDGER_STATE": str(network.state)},
    )
    assert result.exit_code == 0, result.output
    assert "unprotected" in result.output  # the warning (stderr)
    return into / "msp"


def test_the_peer_cli_invokes_with_an_exported_identity_and_the_profile(network: Network, tmp_path: Path) -> None:
    msp = _export(network, tmp_path / "exported")
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


def _node(profile: Path, msp: Path, fn: str, *args: str, submit: bool = False) -> tuple[int, dict[str, str]]:
    command = ["node", str(NODE_DIR / "careledger.mjs"), "--profile", str(profile), "--msp", str(msp), "--fn", fn]
    command += ["--args", json.dumps(list(args)), *(["--submit", "yes"] if submit else [])]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=60, env={**os.environ, "NODE_NO_WARNINGS": "1"}
    )
    assert done.stdout, done.stderr[-2000:]
    answer: dict[str, str] = json.loads(done.stdout.strip().splitlines()[-1])
    return done.returncode, answer


def test_the_official_node_client_calls_the_careledger_chaincode(network: Network, tmp_path: Path) -> None:
    try:
        ensure_installed()
    except NodeUnavailable as exc:
        pytest.fail(f"this test needs the official Node client: {exc}")
    msp = _export(network, tmp_path / "exported")
    profile = network.state / "profiles" / "hospital1.json"
    code, who = _node(profile, msp, "WhoAmI")
    assert code == 0, who
    assert json.loads(who["result"])["member_id"] == f"{USER}@Hospital1MSP"
    # A write: the access request is decided and audited by the ledger like any other (the record is unknown).
    request = json.dumps({"record_ids": ["rec-asked-by-node"], "purpose": "treatment"})
    code, asked = _node(profile, msp, "RequestAccess", request, submit=True)
    assert code == 0, asked
    decision = json.loads(asked["result"])["decisions"][0]
    assert decision["decision"] == "denied"
    from careledger.connection import connect

    with connect(profile, USER) as gateway:
        contract = gateway.network(network.c.channel).contract(network.c.chaincode_name)
        mine = json.loads(contract.evaluate_transaction("ListAccessByRequester", f"{USER}@Hospital1MSP", "1000", ""))
    assert asked["transactionId"] in {e["tx_id"] for e in mine["items"]}
    # A refusal reaches the Node client with the chaincode's code and reason.
    code, refused = _node(profile, msp, "RequestAccess", "not json", submit=True)
    assert code == 1
    assert "INVALID_ARGUMENT" in refused["error"]
