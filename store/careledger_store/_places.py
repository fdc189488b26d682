"""Where a record store keeps its blobs, from its command line: a folder or an S3 bucket, and optionally a
replica in a second place (see _replicas.py). One function used by the server and by the scrub, so both
open the same places the same way."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ._blobs import BlobError, BlobStore, FileBlobStore, S3BlobStore
from ._replicas import ReplicatedBlobStore


@dataclass(frozen=True)
class PlaceSpec:
    """One place: a folder (`location` a path) or a bucket (`location` s3://bucket/prefix/, at `endpoint`,
    AWS when None)."""

    location: str
    endpoint: str | None = None

    @property
    def is_bucket(self) -> bool:
        return self.location.startswith("s3://")


def open_place(spec: PlaceSpec, check: bool = False) -> BlobStore:
    """The blob store of one place; with `check`, a bucket must answer now (BlobUnavailable otherwise)."""
    if not spec.is_bucket:
        return FileBlobStore(Path(spec.location))
    bucket, _, prefix = spec.location[len("s3://") :].partition("/")
    if not bucket:
        raise BlobError(f"{spec.location!r}: name the bucket, as s3://bucket/prefix/")
    store = S3BlobStore(bucket, prefix, endpoint_url=spec.endpoint)
    if check:
        store.check()
    return store


def open_blobs(primary: PlaceSpec, replica: PlaceSpec | None = None, check: bool = False) -> BlobStore:
    """The store's blobs: the primary alone, or the primary replicated to the replica."""
    first = open_place(primary, check)
    if replica is None:
        return first
    if replica == primary:
        raise BlobError(f"the replica {replica.location!r} is the primary itself: name a second place")
    return ReplicatedBlobStore(first, open_place(replica, check))
