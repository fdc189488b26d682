"""Session.submit retries what passes by itself (endorsers a block apart, MVCC conflicts) and nothing else."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from careledger.errors import CommitError, EndorseError, PeerMessage
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


def _session(contract: Any) -> Session:
    return Session(Path("p.json"), "u", gateway=None, contract=contract, deployment=None, wallet=None)  # type: ignore[arg-type]


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
        _session(contract).submit("F")
    assert contract.calls == 1


def test_retries_end() -> None:
    contract = FlakyContract([MISMATCH] * 10)
    session = _session(contract)
    with pytest.raises(EndorseError):
        session.submit("F")
    assert contract.calls == session.max_retries + 1
