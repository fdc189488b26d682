"""The replay guard: nonces of signed requests, remembered while their timestamp is still accepted."""

from __future__ import annotations

import heapq
import threading


class NonceCacheFull(Exception):
    """Too many signed requests are live in the time window to remember one more."""


class NonceCache:
    """An expiring set of nonces with a hard cap on its size.

    A nonce is kept until its request's timestamp leaves the accepted window; after that the timestamp
    check refuses the request anyway, so forgetting the nonce is safe. The cap bounds memory: when that
    many requests are live at once the cache refuses the next one (the client retries later) rather
    than grow without limit or forget nonces early, which would let a request be replayed.
    """

    def __init__(self, capacity: int = 200_000) -> None:
        self.capacity = capacity
        self._expiry: dict[str, float] = {}
        self._by_time: list[tuple[float, str]] = []  # heap: expiries are not in arrival order
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._expiry)

    def add(self, nonce: str, expires: float, now: float) -> bool:
        """Remember `nonce` until `expires`; False if it is remembered already (a replay)."""
        with self._lock:
            while self._by_time and self._by_time[0][0] < now:
                _, old = heapq.heappop(self._by_time)
                self._expiry.pop(old, None)
            if nonce in self._expiry:
                return False
            if len(self._expiry) >= self.capacity:
                raise NonceCacheFull(f"{self.capacity} signed requests are live; retry in a few seconds")
            self._expiry[nonce] = expires
            heapq.heappush(self._by_time, (expires, nonce))
            return True
