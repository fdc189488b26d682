"""Sign-in throttling after NIST SP 800-63B §5.2.2: slow guessing without letting a guesser lock people out.

Three kinds of counters, each shaped by a `Limit`:

- per account (org + user id), for browsers that have not signed in to that account before: after
  `free` failures each further attempt waits `base` seconds, doubling with every failure, at most `cap`;
  and at most `per_day` failures per 24-hour window (so fewer than 100 in a row, as §5.2.2 requires).
  Guessing from many addresses is slowed as much as guessing from one.
- per client address, across every account: the same shape. It slows one address trying many accounts,
  and its daily cap is below the account's, so one address alone can never use up an account's day:
  the most it can do to someone signing in from a new browser is the account's `cap` delay.
- per known device: a browser carrying the account's signed known-device cookie (`_devices.py`) was
  used to sign in to that account before. Its attempts count only against that device, never against
  the account or the address, so the real user keeps signing in from her own browsers while strangers
  are being throttled; a stolen cookie without the passphrase still gets only the device's few tries.

An attempt is charged as a failure when it starts and forgiven when it succeeds, so parallel guesses
cannot all pass the check before any of them has failed. Counters live in this process (like the
sessions) in tables bounded by `max_entries`: entries that say nothing any more (no failure within the
forget period and the day window over) are dropped first, and when a table is full the least recently
failed entry goes.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from careledger.errors import CareLedgerError

DAY = 24 * 3600.0


class TooManyAttempts(CareLedgerError):
    """A sign-in refused before the passphrase was tried; `retry_after` is in whole seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Limit:
    free: int  # failures allowed without any delay
    base: float  # the first delay, in seconds; each further failure doubles it
    cap: float  # the longest delay
    per_day: int  # failures allowed per 24-hour window
    forget: float  # a run of failures is forgotten after this long without one


# A person mistyping gets 5 tries, then 10 s, 20 s, ... 15 min between tries; 40 a day per account.
ACCOUNT = Limit(free=5, base=10.0, cap=900.0, per_day=40, forget=3600.0)
# A shared address (a hospital's NAT) gets more free tries, longer delays, and fewer than an account's day.
ADDRESS = Limit(free=10, base=10.0, cap=3600.0, per_day=30, forget=3600.0)
DEVICE = Limit(free=5, base=10.0, cap=900.0, per_day=20, forget=3600.0)


@dataclass(slots=True)  # one per account, address or device that failed: keep it small
class _Count:
    streak: int = 0  # failures in a row (reset by a success or `forget` seconds without a failure)
    last: float = -math.inf  # when the latest failure was charged
    day_start: float = -math.inf  # the 24-hour window `day` counts in
    day: int = 0

    def wait(self, limit: Limit, now: float) -> float:
        """Seconds until the next attempt may start (0: now)."""
        if self.day >= limit.per_day and now - self.day_start < DAY:
            return self.day_start + DAY - now
        streak = self.streak if now - self.last < limit.forget else 0
        if streak < limit.free:
            return 0.0
        delay = min(limit.base * 2.0 ** min(streak - limit.free, 40), limit.cap)
        return max(0.0, self.last + delay - now)

    def charge(self, limit: Limit, now: float) -> None:
        if now - self.last >= limit.forget:
            self.streak = 0
        if now - self.day_start >= DAY:
            self.day_start, self.day = now, 0
        self.streak += 1
        self.day += 1
        self.last = now

    def stale(self, limit: Limit, now: float) -> bool:
        return now - self.last >= limit.forget and now - self.day_start >= DAY


@dataclass
class _Table:
    limit: Limit
    what: str  # for the refusal: "for this account", ...
    max_entries: int
    items: OrderedDict[str, _Count] = field(default_factory=OrderedDict)

    def wait(self, key: str, now: float) -> float:
        count = self.items.get(key)  # a lookup never creates an entry: only failures cost memory
        return count.wait(self.limit, now) if count else 0.0

    def charge(self, key: str, now: float) -> None:
        count = self.items.get(key)
        if count is None:
            self._make_room(now)
            count = self.items[key] = _Count()
        count.charge(self.limit, now)
        self.items.move_to_end(key)  # the order is by latest failure: stale entries gather at the front

    def forgive(self, key: str, reset: bool) -> None:
        """Undo one charge (`last` stays: for a run that goes on, the delay counts from this attempt)."""
        count = self.items.get(key)
        if count is None:  # evicted meanwhile: nothing to undo
            return
        count.streak = 0 if reset else max(0, count.streak - 1)
        count.day = max(0, count.day - 1)
        if count.streak == 0 and count.day == 0:
            del self.items[key]

    def _make_room(self, now: float) -> None:
        while self.items:
            key, oldest = next(iter(self.items.items()))
            if not (oldest.stale(self.limit, now) or len(self.items) >= self.max_entries):
                return
            del self.items[key]


@dataclass
class Ticket:
    """One sign-in attempt, already charged as a failure: `succeeded()` forgives it."""

    throttle: Throttle
    charges: list[tuple[_Table, str]]

    def succeeded(self) -> None:
        with self.throttle.lock:
            for table, key in self.charges:
                # A success ends the account's (or device's) run of failures; the address's other failures stand.
                table.forgive(key, reset=table is not self.throttle.addresses)

    def cancel(self) -> None:
        """The attempt could not be decided (the server failed, not the passphrase): as if never made."""
        with self.throttle.lock:
            for table, key in self.charges:
                table.forgive(key, reset=False)


class Throttle:
    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        account: Limit = ACCOUNT,
        address: Limit = ADDRESS,
        device: Limit = DEVICE,
        max_entries: int = 100_000,
    ) -> None:
        self.clock = clock
        self.lock = threading.Lock()
        self.accounts = _Table(account, "for this account", max_entries)
        self.addresses = _Table(address, "from your network address", max_entries)
        self.devices = _Table(device, "from this browser", max_entries)

    def begin(self, account: str, address: str, device: str | None = None) -> Ticket:
        """Charge an attempt, or raise TooManyAttempts saying when to retry. A known `device` (an id from a
        verified cookie of this account) is held only to its own limit."""
        keys = [(self.devices, f"{device}\x00{account}")]
        if not device:
            keys = [(self.accounts, account), (self.addresses, address_key(address))]
        with self.lock:
            now = self.clock()
            waits = [(table.wait(key, now), table) for table, key in keys]
            wait, table = max(waits, key=lambda w: w[0])
            if wait > 0:
                seconds = max(1, math.ceil(wait))
                raise TooManyAttempts(
                    f"too many failed sign-ins {table.what}; try again in {in_words(seconds)}", seconds
                )
            for table, key in keys:
                table.charge(key, now)
            return Ticket(self, keys)

    def entries(self) -> int:
        """How many counters are held (memory)."""
        with self.lock:
            return len(self.accounts.items) + len(self.addresses.items) + len(self.devices.items)


def address_key(remote: str) -> str:
    """What the address limit counts by: an IPv4 address, or an IPv6 address's /64 (one subscriber's
    network: counting single IPv6 addresses would give a guesser 2**64 fresh counters)."""
    try:
        ip = ipaddress.ip_address(remote)
    except ValueError:
        return remote
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def in_words(seconds: int) -> str:
    """'45 seconds', 'about 15 minutes', 'about 3 hours'."""
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    if seconds < 90 * 60:
        return f"about {round(seconds / 60)} minutes"
    return f"about {round(seconds / 3600)} hours"
