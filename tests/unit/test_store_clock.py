"""The store checks a granted verdict's access window and consent end once more with its own clock."""

from __future__ import annotations

import datetime

from careledger_store._verdicts import closed_by_own_clock

NOW = datetime.datetime(2026, 6, 1, 12, 0, 0, tzinfo=datetime.UTC)


def _verdict(open_until: str, consent: str = "") -> dict[str, object]:
    return {"granted": True, "open_until": open_until, "consent_valid_until": consent}


def test_an_open_window_and_a_current_consent_release() -> None:
    assert closed_by_own_clock(_verdict("2026-06-01T12:05:00.000000Z", "2027-01-01T00:00:00.000000Z"), NOW) is None
    assert closed_by_own_clock(_verdict("2026-06-01T12:05:00.000000Z"), NOW) is None  # no consent: own/emergency


def test_an_ended_window_or_consent_does_not() -> None:
    assert "access window" in str(closed_by_own_clock(_verdict("2026-06-01T11:59:59.000000Z"), NOW))
    assert "consent" in str(
        closed_by_own_clock(_verdict("2026-06-01T12:05:00.000000Z", "2026-06-01T12:00:00.000000Z"), NOW)
    )
    assert "not a time" in str(closed_by_own_clock(_verdict("soon"), NOW))
