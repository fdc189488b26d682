"""The hospital app's key jobs (_releaser.py) with a scripted session: each round releases emergency keys,
re-wraps the key recoveries awaiting the hospital and flushes the upload outbox, in one session; a job that fails
stops neither the others nor the next round; the log holds counts, never a patient."""

from __future__ import annotations

import logging
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import pytest
from careledger.errors import FailedPrecondition, IdentityError
from careledger.services._key_recovery import RecoveryRewraps
from careledger_apps import _releaser

PATIENT = "h1-patient-1@Hospital1MSP"
REQUESTER = "h2-clinician-1@Hospital2MSP"


@dataclass
class Custodian:
    """The hospital admin's session, as the jobs use it: what each job answers, or raises."""

    released: list[dict[str, Any]] = field(default_factory=list)
    rewraps: RecoveryRewraps = field(default_factory=RecoveryRewraps)
    uploaded: int = 0  # what flush_outbox uploads
    awaiting: int = 0  # what stays in the outbox
    release_fails: Exception | None = None
    rewrap_fails: Exception | None = None
    flush_fails: Exception | None = None
    calls: list[str] = field(default_factory=list)

    def release_pending_emergency_keys(self) -> list[dict[str, Any]]:
        self.calls.append("release")
        if self.release_fails:
            raise self.release_fails
        return self.released

    def rewrap_pending_recoveries(self) -> RecoveryRewraps:
        self.calls.append("rewrap")
        if self.rewrap_fails:
            raise self.rewrap_fails
        return self.rewraps

    def flush_outbox(self) -> int:
        self.calls.append("flush")
        if self.flush_fails:
            raise self.flush_fails
        return self.uploaded

    def pending_uploads(self) -> int:
        return self.awaiting


def _round(custodian: Custodian) -> _releaser.Round:
    return _releaser.run_once(lambda: nullcontext(custodian))  # type: ignore[arg-type]


def test_a_round_releases_and_rewraps_in_one_session() -> None:
    custodian = Custodian(
        released=[{"access_tx_id": "ab" * 32, "requester": REQUESTER, "released": ["rec-1", "rec-2"]}],
        rewraps=RecoveryRewraps(members=2, keys=5, failed=1),
    )
    opened: list[Custodian] = []

    def open_session() -> Any:
        opened.append(custodian)
        return nullcontext(custodian)

    done = _releaser.run_once(open_session)
    assert done == _releaser.Round(released=2, recovered=2, rewrapped=5, unfinished=1)
    assert custodian.calls == ["release", "rewrap", "flush"]
    assert len(opened) == 1
    assert _round(Custodian()) == _releaser.Round()  # nothing awaited: nothing done


@pytest.mark.parametrize(
    ("failing", "expected"),
    [
        ("release_fails", _releaser.Round(recovered=1, rewrapped=3, uploaded=2, awaiting_upload=1)),
        ("rewrap_fails", _releaser.Round(released=1, uploaded=2, awaiting_upload=1)),
        ("flush_fails", _releaser.Round(released=1, recovered=1, rewrapped=3, awaiting_upload=1)),
    ],
)
def test_one_job_failing_stops_not_the_other(
    failing: str, expected: _releaser.Round, caplog: pytest.LogCaptureFixture
) -> None:
    custodian = Custodian(
        released=[{"access_tx_id": "ab" * 32, "requester": REQUESTER, "released": ["rec-1"]}],
        rewraps=RecoveryRewraps(members=1, keys=3),
        uploaded=2,
        awaiting=1,
    )
    setattr(custodian, failing, FailedPrecondition("x", reason=f"nothing for {PATIENT}"))
    with caplog.at_level(logging.WARNING, logger=_releaser.__name__):
        assert _round(custodian) == expected
    assert custodian.calls == ["release", "rewrap", "flush"]
    assert "failed this round: FailedPrecondition" in caplog.text
    assert PATIENT not in caplog.text  # the kind of failure, never its words


def test_a_session_that_cannot_open_does_nothing_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> Any:
        raise IdentityError("h1-admin has no encryption key")

    with caplog.at_level(logging.WARNING, logger=_releaser.__name__):
        assert _releaser.run_once(broken) == _releaser.Round()
    assert "could not run this round: IdentityError" in caplog.text


def test_the_log_holds_counts_only_and_says_a_stuck_recovery_once(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger=_releaser.__name__):
        _releaser.log_round(_releaser.Round(released=1, recovered=2, rewrapped=4, unfinished=1))
        _releaser.log_round(_releaser.Round(unfinished=1), unfinished_before=1)  # the same one, next round
        _releaser.log_round(_releaser.Round(), unfinished_before=1)  # done: nothing to say
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "released 1 record key(s) to emergency requesters of other hospitals",
        "re-wrapped 4 record key(s) for the new keys of 2 recovered member(s)",
        "1 key recovery(ies) could not be re-wrapped: tried again each round",
    ]


def test_each_round_flushes_the_upload_outbox_and_says_what_waits_once(caplog: pytest.LogCaptureFixture) -> None:
    custodian = Custodian(uploaded=3, awaiting=2)
    done = _round(custodian)
    assert done == _releaser.Round(uploaded=3, awaiting_upload=2)
    assert "flush" in custodian.calls
    with caplog.at_level(logging.INFO, logger=_releaser.__name__):
        _releaser.log_round(done)
        _releaser.log_round(_releaser.Round(awaiting_upload=2), awaiting_before=2)  # the same two, next round
        _releaser.log_round(_releaser.Round(uploaded=2), awaiting_before=2)  # the store is back
    assert [r.getMessage() for r in caplog.records] == [
        "uploaded 3 ciphertext(s) from the upload outbox to the record store",
        "2 ciphertext(s) wait in the upload outbox: tried again each round",
        "uploaded 2 ciphertext(s) from the upload outbox to the record store",
    ]
