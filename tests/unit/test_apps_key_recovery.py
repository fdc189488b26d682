"""The portal tells the patient what happened to their key: who replaced it, when, and how many records' keys
were re-wrapped for the new one (portal_mine.key_replaced, from GetKeyRecovery)."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

from .app_sessions import H1, PATIENT, Patient, portal

ADMIN = "h1-admin@Hospital1MSP"
RECOVERY: dict[str, Any] = {
    "member_id": PATIENT,
    "org": H1,
    "status": "completed",
    "opened_by": ADMIN,
    "opened_at": "2026-03-01T09:00:00Z",
    "open_tx_id": "a" * 64,
    "proofing": "in-person",
    "certificate_sha256": "b" * 64,
    "compromised_kid": "old",
    "new_kid": "new",
    "key_registered_at": "2026-03-01T09:30:00Z",
    "custodians": {H1: {"to_rewrap": 2, "rewrapped": 2}, "Hospital2MSP": {"to_rewrap": 1, "rewrapped": 1}},
    "completed_at": "2026-03-01T10:00:00Z",
}


@dataclass
class RecoveredPatient(Patient):
    recovery: dict[str, Any] | None = None

    def key_recovery(self, member_id: str | None = None) -> dict[str, Any] | None:
        return self.recovery


def _home(recovery: dict[str, Any] | None) -> str:
    browser, _ = portal(RecoveredPatient(recovery=recovery))
    response = browser.page("/")
    assert response.status_code == 200
    return html.unescape(response.get_data(as_text=True))


def test_the_home_page_says_who_replaced_the_key_and_how_many_records_were_rewrapped() -> None:
    page = _home(RECOVERY)
    assert "Your key was replaced by" in page
    assert "h1-admin" in page
    assert "3 records re-wrapped." in page


def test_a_recovery_under_way_says_what_is_left() -> None:
    partial = {**RECOVERY, "status": "rewrapping", "custodians": {H1: {"to_rewrap": 2, "rewrapped": 1}}}
    assert "1 record re-wrapped so far, of 2" in _home(partial)
    waiting = {k: v for k, v in RECOVERY.items() if k not in ("custodians", "new_kid", "key_registered_at")}
    assert "Register your new key" in _home({**waiting, "status": "awaiting-key"})


def test_no_recovery_no_section() -> None:
    assert "Your encryption key" not in _home(None)
