"""What the store makes of the ledger's answers: asking again while the client's access transaction has
not reached this organization's peer yet, and checking a granted verdict once more by the store's own clock."""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable
from typing import Any

# A client presents an access transaction as soon as its own peer committed it; this org's peer may be
# a block behind for a moment. The store asks again for up to this long before calling it unknown.
COMMIT_LAG_WAIT = 3.0


def closed_by_own_clock(verdict: dict[str, Any], now: datetime.datetime | None = None) -> str | None:
    """Why a granted verdict no longer releases anything by this store's own clock, or None.

    The ledger decided at the time in the store's own proposal, which an endorser lets differ from its clock
    by up to 30 s; the access window and the consent's end are checked once more here, as the blob leaves."""
    moment = now or datetime.datetime.now(datetime.UTC)
    for field, why in (("open_until", "the access window has ended"), ("consent_valid_until", "the consent has ended")):
        value = verdict.get(field)
        if not value:
            continue
        try:
            end = datetime.datetime.strptime(str(value), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.UTC)
        except ValueError:
            return f"the ledger's {field} is not a time: refusing"
        if moment >= end:
            return f"{why} ({value}, by this store's clock): request access again"
    return None


def ask_until_committed(
    ask: Callable[[], dict[str, Any]],
    not_yet: Callable[[dict[str, Any]], bool],
    wait: float = COMMIT_LAG_WAIT,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """The ledger's answer, asked again with backoff while it says the transaction is not committed (on
    this org's peer, yet), for at most `wait` seconds; then the last answer, whatever it says."""
    answer, pause, waited = ask(), 0.02, 0.0
    while not_yet(answer) and waited < wait:
        sleep(pause)
        waited += pause
        pause = min(pause * 2, 0.5)
        answer = ask()
    return answer
