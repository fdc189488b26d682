"""Defect 6 of fabric-chaincode-python 2.5.4: it failed to start on Python 3.12/3.13 (a future attached
to a different event loop). Our runtime creates and runs its own loop in its own thread; this proves it
starts and serves by swapping one org's chaincode server for one running under each newer interpreter,
and transacting through the real peer."""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from careledger.connection import connect
from careledger_network.network import Network
from careledger_network.paths import REPO_ROOT

pytestmark = [pytest.mark.network, pytest.mark.slow]

CHAINCODE_DEPS = [
    "grpcio>=1.68,<2",
    "protobuf>=5.27,<6",
    "hyperledger-fabric-protos==0.3.7.dev349689853811",
    "cryptography>=43",
    "greenlet>=3",
]


def _interpreter(version: str) -> Path | None:
    for candidate in (Path.home() / ".pyenv" / "versions").glob(f"{version}.*/bin/python3"):
        return candidate
    return None


def _venv(version: str, interpreter: Path) -> Path:
    """A cached virtualenv with only the chaincode's dependencies (the chaincode code comes from PYTHONPATH)."""
    deps = hashlib.sha256("\n".join(CHAINCODE_DEPS).encode()).hexdigest()[:8]  # new dependencies, new venv
    venv = Path.home() / ".cache" / "careledger" / f"chaincode-py{version}-{deps}"
    python = venv / "bin" / "python"
    if not (venv / ".ready").exists():
        subprocess.run([str(interpreter), "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *CHAINCODE_DEPS], check=True, timeout=600)
        (venv / ".ready").write_text("")
    return python


@pytest.mark.parametrize("version", ["3.12", "3.13"])
def test_chaincode_server_runs_on_newer_pythons(network: Network, version: str) -> None:
    interpreter = _interpreter(version)
    if interpreter is None:
        pytest.skip(f"no Python {version} interpreter on this machine (looked in ~/.pyenv/versions)")
    python = _venv(version, interpreter)
    org = network.c.org("hospital2")
    spec = next(s for s in network._chaincode_specs() if s.name == f"cc-{org.key}")
    network.table.stop(spec.name)
    env = {
        **spec.env,
        "PYTHONPATH": f"{REPO_ROOT / 'chaincode'}:{REPO_ROOT / 'protocol'}",
    }  # the chaincode and its protocol
    name = f"cc-{org.key}-py{version}"
    log = network.state / "logs" / f"{name}.log"
    offset = log.stat().st_size if log.exists() else 0  # the log is appended to: read only this run's part
    proc = network.table.start(name, [str(python), "-m", network.c.chaincode_server_module], env, ports=spec.ports)
    try:
        deadline = time.monotonic() + 30
        while "serving" not in log.read_text()[offset:]:
            assert proc.alive(), log.read_text()[-2000:]
            assert time.monotonic() < deadline, "the chaincode server did not start"
            time.sleep(0.1)
        with connect(network.state / "profiles" / "hospital2.json", "h2-admin") as gw:  # diag: admins only
            diag = gw.network(network.c.channel).contract(network.c.chaincode_name, "diag")
            key = f"py{version}-{uuid.uuid4().hex[:8]}"
            transaction = diag.new_proposal(
                "Put", [key, version], endorsing_organizations=["Hospital2MSP", "Hospital1MSP"]
            ).endorse()
            assert "Hospital2MSP" in transaction.endorser_msp_ids
            assert transaction.submit().status().successful
            who = diag.new_proposal("WhoAmI", endorsing_organizations=["Hospital2MSP"]).evaluate()
            assert json.loads(who)["member_id"] == "h2-admin"
        assert f"registered with the peer as careledger_{org.key}" in log.read_text()[offset:]
        version_seen = subprocess.run(
            [str(python), "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True
        ).stdout
        assert version_seen.strip() == str(tuple(int(x) for x in version.split(".")))
    finally:
        network.table.stop(name)
        network.start()  # the regular server again
    assert network.is_running()
