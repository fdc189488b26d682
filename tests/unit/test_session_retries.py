"""Session.submit retries what passes by itself (endorsers a block apart, MVCC conflicts) and nothing else."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from careledger.errors import CommitError, EndorseError, NotFound, PeerMessage
from careledger.services import Session

MISMATCH = EndorseError(
    "endorse failed: ABORTED: failed to collect enough transaction endorsements",
    "tx1",
    "ABORTED",
    (PeerMessage("127.0.0.1:7210", "Hospital2MSP", "ProposalResponsePayloads do not match"),),
)
REFUSED = EndorseError(
    "endorse failed: ABORTED: failed to endorse transaction",
    "tx2",
    "ABORTED",
    (PeerMessage("127.0.0.1:7110", "Hospital1MSP", "chaincode response 400, NOT_AUTHORIZED: no"),),
)


class FlakyContract:
    def __init__(self, failures: list[Exception]) -> None:
        self.failures = failures
        self.calls = 0

    def submit_transaction(self, function: str, *args: str, transient: dict[str, bytes] | None = None) -> bytes:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return b'{"ok": true}'


def _session_of(contract: Any, msp_id: str) -> Session:
    gateway = SimpleNamespace(identity=SimpleNamespace(msp_id=msp_id))
    return Session(Path("p.json"), "u", gateway=gateway, contract=contract, deployment=None, wallet=None)  # type: ignore[arg-type]


def _session(contract: Any) -> Session:
    return _session_of(contract, "Hospital1MSP")


@pytest.mark.parametrize(
    ("failures", "calls"),
    [
        ([MISMATCH], 2),
        ([MISMATCH, MISMATCH, MISMATCH], 4),
        ([CommitError("invalid", "tx3", validation_code="MVCC_READ_CONFLICT", block_number=7)], 2),
    ],
)
def test_transient_failures_are_retried(failures: list[Exception], calls: int) -> None:
    contract = FlakyContract(failures)
    assert _session(contract).submit("F") == {"ok": True}
    assert contract.calls == calls


POLICY_FAILURE = CommitError("invalid", "tx4", validation_code="ENDORSEMENT_POLICY_FAILURE", block_number=7)


@pytest.mark.parametrize("failure", [REFUSED, POLICY_FAILURE])
def test_refusals_are_not_retried(failure: Exception) -> None:
    contract = FlakyContract([failure])
    with pytest.raises(type(failure)):
        _session_of(contract, "Hospital1MSP").submit("F")  # REFUSED: by the session's own organization's peer
    assert contract.calls == 1


def test_retries_end() -> None:
    contract = FlakyContract([MISMATCH] * 10)
    session = _session(contract)
    with pytest.raises(EndorseError):
        session.submit("F")
    assert contract.calls == session.max_retries + 1


def _lagging(*msp_ids: str) -> NotFound:
    return NotFound(
        "endorse failed: ABORTED: failed to endorse transaction",
        "grant g-1 does not exist",
        transaction_id="tx5",
        grpc_status="ABORTED",
        details=tuple(
            PeerMessage(f"127.0.0.1:7{n}10", m, "NOT_FOUND: grant g-1 does not exist") for n, m in enumerate(msp_ids)
        ),
    )


def test_a_refusal_by_peers_that_lack_a_block_the_sessions_peer_has_is_retried() -> None:
    """A grant committed on Hospital2's peer is "not found" on the others' for a moment: revoking it at
    once is refused by them only, and passes when asked again."""
    contract = FlakyContract([_lagging("Hospital1MSP", "HealthAuthorityMSP")])
    assert _session_of(contract, "Hospital2MSP").submit("RevokeConsent") == {"ok": True}
    assert contract.calls == 2


@pytest.mark.parametrize(
    "refusers",
    [
        ("Hospital2MSP",),  # the session's own peer refused: true everywhere
        ("Hospital2MSP", "Hospital1MSP"),
        (),  # no peer's word: nothing says the peers disagree
    ],
)
def test_a_refusal_that_is_not_a_lag_is_raised(refusers: tuple[str, ...]) -> None:
    contract = FlakyContract([_lagging(*refusers)])
    with pytest.raises(NotFound):
        _session_of(contract, "Hospital2MSP").submit("RevokeConsent")
    assert contract.calls == 1


def test_a_lag_that_does_not_pass_ends_in_the_refusal() -> None:
    contract = FlakyContract([_lagging("Hospital1MSP")] * 10)
    session = _session_of(contract, "Hospital2MSP")
    with pytest.raises(NotFound):
        session.submit("RevokeConsent")
    assert contract.calls == session.max_retries + 1
