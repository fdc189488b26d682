"""Offline signing across clients: the official Node client (@hyperledger/fabric-gateway, connected without
a signer) and fabric_gateway read each other's stage bytes, and each signs the other's digests."""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Callable

import pytest
from careledger_bench.node import NODE_DIR, NodeUnavailable, ensure_installed
from cryptography.hazmat.primitives.asymmetric import ec
from fabric_gateway import signers

from .conftest import Scenarios, run_id

pytestmark = pytest.mark.network
Node = Callable[..., dict[str, str]]  # runs a step of interop.mjs and returns its JSON answer


@pytest.fixture(scope="module")
def node(scenarios: Scenarios) -> Node:
    try:
        ensure_installed()
    except NodeUnavailable as exc:
        pytest.fail(f"the interop test needs the official Node client: {exc}")

    def run(step: str, **options: str) -> dict[str, str]:
        profile = scenarios.network.state / "profiles" / "hospital1.json"
        command = ["node", str(NODE_DIR / "interop.mjs"), "--profile", str(profile), "--user", "h1-clinician-1"]
        command += ["--chaincode", "basic", "--step", step]
        for name, value in options.items():
            command += [f"--{name}", value]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr[-2000:]
        answer: dict[str, str] = json.loads(done.stdout)
        return answer

    return run


def _sign(scenarios: Scenarios) -> signers.Sign:
    key = scenarios.key("Org1")
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return signers.ecdsa(key)


def test_a_node_proposal_is_signed_and_evaluated_by_python(scenarios: Scenarios, node: Node) -> None:
    made = node("propose", fn="echo", args=json.dumps(["from node"]))
    gateway = scenarios.gateway("hospital1", "h1-clinician-1", signed=False)
    data, digest = base64.b64decode(made["bytes"]), base64.b64decode(made["digest"])
    proposal = gateway.new_signed_proposal(data, _sign(scenarios)(digest))
    assert proposal.transaction_id == made["transactionId"]
    assert proposal.digest == digest  # the same message digest on both sides
    assert proposal.evaluate() == b"from node"


def test_python_stages_are_evaluated_and_submitted_by_node(scenarios: Scenarios, node: Node) -> None:
    sign, word = _sign(scenarios), f"from python {run_id()}"
    gateway = scenarios.gateway("hospital1", "h1-clinician-1", signed=False)
    contract = gateway.network(scenarios.network.c.channel).contract("basic")
    proposal = contract.new_proposal("echo", [word])
    signature = sign(proposal.digest)
    b64 = base64.b64encode
    answer = node("evaluate", bytes=b64(proposal.bytes).decode(), signature=b64(signature).decode())
    assert answer["result"] == word
    transaction = proposal.with_signature(signature).endorse()
    commit = node("submit", bytes=b64(transaction.bytes).decode(), signature=b64(sign(transaction.digest)).decode())
    assert commit["transactionId"] == transaction.transaction_id
    status = gateway.new_signed_commit(base64.b64decode(commit["bytes"]), sign(base64.b64decode(commit["digest"])))
    assert status.status().successful
