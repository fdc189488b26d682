"""A record store that keeps every blob in two places: a primary (read first) and a replica.

Writes: the primary, then the replica; `put` returns (and the store acknowledges the upload) only once both
hold the blob. When the replica (or the primary) cannot be written the upload fails with
ReplicaWriteFailed and nothing is acknowledged. A copy already written to the other place is NOT rolled
back, on purpose: a blob is immutable and named by its SHA-256, so a copy in one place is never wrong,
only not yet replicated; the client's retry of the same upload (idempotent) or the scrub (_scrub.py)
completes it. Deleting it instead could race a concurrent upload of the same bytes that was acknowledged.

Reads: the primary; when it misses the blob, holds a corrupt copy, or cannot be asked, the replica, and
a blob found there is written back to the primary (a repair, logged by address only).

Deletes (after erasure on the ledger) remove the blob from both places.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from ._blobs import BlobCorrupt, BlobError, BlobNotFound, BlobStore, BlobUnavailable, check_address

log = logging.getLogger("careledger_store")


class ReplicaWriteFailed(BlobUnavailable):
    """An upload was not kept in both places, so it must not be acknowledged."""


class ReplicatedBlobStore:
    def __init__(self, primary: BlobStore, replica: BlobStore) -> None:
        self.primary, self.replica = primary, replica

    def __str__(self) -> str:
        return f"{self.primary} replicated to {self.replica}"

    @property
    def places(self) -> tuple[tuple[str, BlobStore], tuple[str, BlobStore]]:
        return ("primary", self.primary), ("replica", self.replica)

    def put(self, blob: bytes | bytearray) -> str:
        address = ""
        for name, place in self.places:
            try:
                address = place.put(blob)
            except BlobError as exc:
                raise ReplicaWriteFailed(
                    f"the blob was not stored: the {name} ({place}) could not keep it, so the upload is not "
                    f"acknowledged; retry once it is back ({exc})"
                ) from None
        return address

    def get(self, address: str) -> bytes:
        check_address(address)
        try:
            return self.primary.get(address)
        except BlobError as exc:
            primary_problem = exc
        try:
            blob = self.replica.get(address)
        except BlobNotFound:
            if isinstance(primary_problem, BlobNotFound):
                raise BlobNotFound(f"no blob {address} in either place") from None
            raise BlobError(f"blob {address}: primary: {primary_problem}; the replica has none") from None
        except BlobError as exc:
            if isinstance(primary_problem, BlobNotFound) and isinstance(exc, BlobUnavailable):
                raise BlobUnavailable(f"blob {address} is not in the primary and the replica is down: {exc}") from None
            raise BlobError(f"blob {address}: primary: {primary_problem}; replica: {exc}") from None
        self._repair_primary(address, blob, primary_problem)
        return blob

    def _repair_primary(self, address: str, blob: bytes, problem: BlobError) -> None:
        if isinstance(problem, BlobUnavailable):
            log.warning("blob %s read from the replica: the primary could not be asked", address)
            return
        what = "corrupt" if isinstance(problem, BlobCorrupt) else "missing"
        try:
            self.primary.put(blob)
        except BlobError as exc:
            log.warning("blob %s was %s in the primary; repair from the replica failed: %s", address, what, exc)
            return
        log.warning("blob %s was %s in the primary: repaired from the replica", address, what)

    def exists(self, address: str) -> bool:
        return any(self._exists_in(place, address) for _, place in self.places)

    @staticmethod
    def _exists_in(place: BlobStore, address: str) -> bool:
        try:
            return place.exists(address)
        except BlobUnavailable:
            return False

    def delete(self, address: str) -> bool:
        # Both places, even if the first had none: an erased record's ciphertext must go from every copy.
        deleted = [place.delete(address) for _, place in self.places]
        return any(deleted)

    def addresses(self) -> Iterator[str]:
        seen: set[str] = set()
        for _, place in self.places:
            for address in place.addresses():
                if address not in seen:
                    seen.add(address)
                    yield address

    def sweep_incomplete(self) -> int:
        return sum(place.sweep_incomplete() for _, place in self.places)
