"""Where a hospital's record store keeps the second copy of every blob: the `record_store` entry of an
organization in consortium.yaml, parsed here once (careledger_network.store_places turns it into the store's
command line and the scrub's places).

    record_store: true                        local disk only
    record_store: {replica: s3, bucket: B, endpoint: https://..., prefix: blobs/, primary_bucket: P,
                   credentials_file: PATH}    an S3-compatible bucket elsewhere (credentials from boto3's
                                              usual sources, or that file; never from consortium.yaml)
    record_store: {replica: s3proxy}          the network runs an S3 API server (S3Proxy) for this
                                              organization at its port base + 9, on its own host, with a
                                              bucket of its own on that host's disk: one machine's stand-in
                                              for a bucket elsewhere, and what the demo and the tests use
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .errors import ConsortiumError

__all__ = ["StoreReplica", "store_replica"]

S3, S3PROXY = "s3", "s3proxy"
_REPLICA_KINDS = (S3, S3PROXY)
_REPLICA_KEYS = {"replica", "bucket", "prefix", "endpoint", "primary_bucket", "credentials_file"}
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


@dataclass(frozen=True)
class StoreReplica:
    """Where a record store keeps its second copy of every blob; see careledger_store._replicas."""

    kind: str  # S3: a bucket elsewhere; S3PROXY: a bucket served by the network itself
    bucket: str
    prefix: str = "blobs/"
    endpoint: str | None = None  # None: AWS
    primary_bucket: str | None = None  # the primary in a bucket too (same endpoint), else the local disk
    credentials_file: str | None = None  # S3PROXY: the network writes it into its state folder
    server_port: int = 0  # S3PROXY: where the network serves the bucket

    @property
    def location(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    @property
    def served_by_network(self) -> bool:
        return self.kind == S3PROXY


def store_replica(value: Any, where: str, server_port: int, host: str) -> StoreReplica | None:
    """`record_store`: true or false (local disk only), or a mapping naming the replica."""
    if isinstance(value, bool) or value is None:
        return None
    if not isinstance(value, dict):
        raise ConsortiumError(f"{where}: {value!r} must be true, false or a mapping with 'replica'")
    if unknown := sorted(set(value) - _REPLICA_KEYS):
        known = ", ".join(sorted(_REPLICA_KEYS))
        raise ConsortiumError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {known}")
    if "replica" not in value:
        raise ConsortiumError(f"{where}: missing 'replica' (one of: {', '.join(_REPLICA_KINDS)})")
    kind = value["replica"]
    if kind not in _REPLICA_KINDS:
        kinds = ", ".join(_REPLICA_KINDS)
        raise ConsortiumError(f"{where}.replica: {kind!r} is not a replica kind; use one of: {kinds}")
    if kind == S3PROXY:
        if extra := sorted(set(value) - {"replica", "bucket"}):
            raise ConsortiumError(
                f"{where}: {', '.join(extra)} cannot be set for replica: s3proxy (the network serves it)"
            )
        bucket = value.get("bucket", "replica")
        _check_bucket(bucket, f"{where}.bucket")
        return StoreReplica(S3PROXY, bucket, endpoint=f"https://{host}:{server_port}", server_port=server_port)
    if "bucket" not in value:
        raise ConsortiumError(f"{where}: missing 'bucket'")
    buckets = {"bucket": value["bucket"], "primary_bucket": value.get("primary_bucket")}
    for name, bucket in buckets.items():
        if bucket is not None:
            _check_bucket(bucket, f"{where}.{name}")
    if buckets["bucket"] == buckets["primary_bucket"]:
        raise ConsortiumError(f"{where}: bucket and primary_bucket are the same: the replica must be elsewhere")
    endpoint = value.get("endpoint")
    if endpoint is not None and not (isinstance(endpoint, str) and re.match(r"^https?://[^/\s]+/?$", endpoint)):
        raise ConsortiumError(f"{where}.endpoint: {endpoint!r} must be http(s)://host[:port]")
    prefix = str(value.get("prefix", "blobs/"))
    if prefix and not prefix.endswith("/"):
        raise ConsortiumError(f"{where}.prefix: {prefix!r} must end with '/'")
    credentials = value.get("credentials_file")
    return StoreReplica(
        kind=S3,
        bucket=buckets["bucket"],
        prefix=prefix,
        endpoint=endpoint.rstrip("/") if endpoint else None,
        primary_bucket=buckets["primary_bucket"],
        credentials_file=str(credentials) if credentials else None,
    )


def _check_bucket(bucket: Any, where: str) -> None:
    if not (isinstance(bucket, str) and _BUCKET.match(bucket)):
        raise ConsortiumError(f"{where}: {bucket!r} is not an S3 bucket name (3-63 of a-z 0-9 . -)")
