"""Time in the healthcare contract: strict RFC 3339 input, one fixed-width UTC form stored, and the
transaction's time checked against the endorsing peer's clock.

The time a transaction acts at is its proposal's timestamp, which the client chooses (Fabric checks
none). Endorsing peers refuse a proposal more than MAX_CLOCK_SKEW away from their own clock, so a
client can move time by at most that much (docs/security.md, 'Time'); the record stores re-check
consent with their own clock when they release ciphertext. The local clock only gates: it is never
written, so endorsers with slightly different clocks still produce the same write set.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

from ...runtime import Context
from ._refusals import invalid, precondition

MAX_CLOCK_SKEW = datetime.timedelta(seconds=30)
# An access transaction opens the record versions it decided on for this long: keys from the ledger and
# ciphertext from the stores. Later, a new (audited) decision is needed.
ACCESS_WINDOW = datetime.timedelta(minutes=10)
EARLIEST_YEAR, LATEST_YEAR = 2000, 2199
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")
_HELP = "an RFC 3339 time with a time zone, e.g. 2027-06-30T23:59:59Z"


def iso(moment: datetime.datetime) -> str:
    """The stored form: UTC, microseconds, 4-digit year, fixed width, so that comparing two stored
    times as strings compares them as instants."""
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def instant(stored: str) -> datetime.datetime:
    """A stored time back as an aware datetime (fromisoformat reads the stored form, with its 'Z', about
    40 times faster than strptime: a batch decision compares times for each record)."""
    return datetime.datetime.fromisoformat(stored)


def timestamp(value: Any, what: str) -> str:
    """A caller's time, strictly RFC 3339 with a zone, within EARLIEST_YEAR..LATEST_YEAR; stored form."""
    if not isinstance(value, str) or not _RFC3339.match(value):
        raise invalid(f"{what} must be {_HELP}")
    digits = value.replace("Z", "+00:00")
    fraction = re.search(r"\.(\d+)", digits)
    if fraction:  # Python parses at most 6 fractional digits; RFC 3339 allows more
        digits = digits.replace(fraction.group(0), "." + fraction.group(1)[:6].ljust(6, "0"))
    try:
        moment = datetime.datetime.fromisoformat(digits)
    except ValueError:
        raise invalid(f"{what} is not a real date and time ({_HELP})") from None
    if not EARLIEST_YEAR <= moment.astimezone(datetime.UTC).year <= LATEST_YEAR:
        raise invalid(f"{what} must be between the years {EARLIEST_YEAR} and {LATEST_YEAR}")
    return iso(moment)


def now(ctx: Context) -> str:
    """The transaction's time (its proposal timestamp), refused when it is far from this peer's clock."""
    proposed = ctx.stub.timestamp
    skew = abs(proposed - ctx.stub.local_time())
    if skew > MAX_CLOCK_SKEW:
        raise precondition(
            f"the proposal's timestamp is {int(skew.total_seconds())} s away from the endorsing peer's clock "
            f"(at most {int(MAX_CLOCK_SKEW.total_seconds())} s): check this computer's clock and retry"
        )
    return iso(proposed)


def within_window(decided_at: str, at: str) -> bool:
    """Is `at` within ACCESS_WINDOW of a decision made at `decided_at`?"""
    return instant(at) - instant(decided_at) <= ACCESS_WINDOW


def window_end(decided_at: str) -> str:
    return iso(instant(decided_at) + ACCESS_WINDOW)
