"""Content-addressed storage of ciphertexts: a blob's name is its SHA-256.

Writes are atomic (temporary file, fsync, rename, fsync of the folder): a crash leaves either no
blob or the whole blob under its name, never part of one.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from careledger import CareLedgerError, write_atomic

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class BlobError(CareLedgerError):
    pass


class BlobNotFound(BlobError):
    pass


class BlobCorrupt(BlobError):
    """The bytes kept under an address do not hash to it (bit rot, a torn copy, tampering)."""


class BlobUnavailable(BlobError):
    """A place could not be asked at all (a bucket unreachable, refusing our credentials, or missing)."""


def check_address(address: str) -> str:
    if not _SHA256.match(address):
        raise BlobError(f"{address!r} is not a blob address (64 lower-case hex characters of SHA-256)")
    return address


class BlobStore(Protocol):
    def put(self, blob: bytes | bytearray) -> str: ...
    def get(self, address: str) -> bytes: ...
    def exists(self, address: str) -> bool: ...
    def delete(self, address: str) -> bool: ...
    def addresses(self) -> Iterator[str]: ...
    def sweep_incomplete(self) -> int: ...


class FileBlobStore:
    """Blobs in a folder tree: <root>/ab/cd/<sha256>."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def __str__(self) -> str:
        return f"the folder {self.root}"

    def _path(self, address: str) -> Path:
        check_address(address)
        return self.root / address[:2] / address[2:4] / address

    def put(self, blob: bytes | bytearray) -> str:
        address = hashlib.sha256(blob).hexdigest()
        path = self._path(address)
        # A copy already there is kept only if it is whole: putting the right bytes repairs a corrupt one.
        if path.exists() and hashlib.sha256(path.read_bytes()).hexdigest() == address:
            return address
        try:
            write_atomic(path, blob)
        except OSError as exc:  # a full or failing disk: the upload must fail, naming the place
            raise BlobUnavailable(f"{self} could not keep the blob ({exc.strerror or type(exc).__name__})") from None
        return address

    def get(self, address: str) -> bytes:
        try:
            blob = self._path(address).read_bytes()
        except FileNotFoundError:
            raise BlobNotFound(f"no blob {address}") from None
        if hashlib.sha256(blob).hexdigest() != address:
            raise BlobCorrupt(f"blob {address} is corrupt on disk (its SHA-256 differs)")
        return blob

    def exists(self, address: str) -> bool:
        return self._path(address).exists()

    def delete(self, address: str) -> bool:
        try:
            self._path(address).unlink()
        except FileNotFoundError:
            return False
        return True

    def addresses(self) -> Iterator[str]:
        """Every address kept here (temporary files of uploads in progress are not blobs)."""
        for path in self.root.glob("[0-9a-f][0-9a-f]/[0-9a-f][0-9a-f]/*"):
            if _SHA256.match(path.name) and path.name.startswith(path.parent.parent.name + path.parent.name):
                yield path.name

    def sweep_incomplete(self) -> int:
        """Remove temporary files a crash left behind (never a blob under its own name)."""
        removed = 0
        for tmp in self.root.glob("*/*/.*.incoming-*"):
            tmp.unlink(missing_ok=True)
            removed += 1
        return removed


class S3BlobStore:
    """Blobs in an S3-compatible bucket (AWS S3, MinIO, Ceph RGW, S3Proxy, ...), under <prefix><sha256>.

    S3 writes an object whole or not at all, so a crash never leaves part of a blob under its name.
    Needs boto3 (`pip install boto3`); credentials and region come from boto3's usual sources.
    Every failure to reach the bucket is a BlobUnavailable naming the bucket, never a botocore error.
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "blobs/",
        endpoint_url: str | None = None,
        client: object = None,
        timeout: float = 10.0,
    ) -> None:
        if client is None:
            try:
                import boto3
                from botocore.config import Config
            except ImportError:
                raise BlobError("the S3 backend needs boto3: pip install boto3") from None
            config = Config(
                # An unreachable bucket must fail an upload in seconds, not after boto3's default minutes.
                connect_timeout=timeout,
                read_timeout=timeout,
                retries={"mode": "standard", "max_attempts": 2},
                # Servers other than AWS (S3Proxy, Ceph, older MinIO) take path-style requests and MD5
                # checksums; the newer flexible checksums only when an operation requires them.
                s3={"addressing_style": "path"} if endpoint_url else {},
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            )
            # A session of its own: boto3's default one caches the first credentials it found, process-wide.
            client = boto3.session.Session().client("s3", endpoint_url=endpoint_url, config=config)
        self._s3: Any = client
        self.bucket, self.prefix, self.endpoint_url = bucket, prefix, endpoint_url

    def __str__(self) -> str:
        return f"the bucket s3://{self.bucket}/{self.prefix}" + (
            f" at {self.endpoint_url}" if self.endpoint_url else ""
        )

    def _key(self, address: str) -> str:
        return self.prefix + check_address(address)

    def _unavailable(self, exc: Exception) -> BlobUnavailable:
        # The error's class and code only: S3 messages may echo request details.
        code = _code(exc)
        why = type(exc).__name__ + (f" {code}" if code else "")
        return BlobUnavailable(f"{self} could not be used ({why})")

    def check(self) -> None:
        """Raise BlobUnavailable unless the bucket exists and answers us."""
        try:
            self._s3.head_bucket(Bucket=self.bucket)
        except Exception as exc:  # noqa: BLE001  # botocore's errors: connection, credentials, 404
            if _code(exc) in ("404", "NoSuchBucket", "NotFound"):
                raise BlobUnavailable(f"{self}: the bucket {self.bucket!r} does not exist") from None
            raise self._unavailable(exc) from None

    def put(self, blob: bytes | bytearray) -> str:
        address = hashlib.sha256(blob).hexdigest()
        digest = base64.b64encode(hashlib.md5(blob, usedforsecurity=False).digest()).decode()
        try:
            self._s3.put_object(Bucket=self.bucket, Key=self._key(address), Body=bytes(blob), ContentMD5=digest)
        except Exception as exc:  # noqa: BLE001
            raise self._unavailable(exc) from None
        return address

    def get(self, address: str) -> bytes:
        key = self._key(address)
        try:
            blob = self._s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except Exception as exc:  # noqa: BLE001
            if _code(exc) in ("NoSuchKey", "404"):
                raise BlobNotFound(f"no blob {address}") from None
            raise self._unavailable(exc) from None
        if hashlib.sha256(blob).hexdigest() != address:
            raise BlobCorrupt(f"blob {address} is corrupt in the bucket (its SHA-256 differs)")
        return bytes(blob)

    def exists(self, address: str) -> bool:
        try:
            self._s3.head_object(Bucket=self.bucket, Key=self._key(address))
        except Exception as exc:  # noqa: BLE001
            if _code(exc) in ("404", "NoSuchKey", "NotFound"):
                return False
            raise self._unavailable(exc) from None
        return True

    def delete(self, address: str) -> bool:
        existed = self.exists(address)
        try:
            self._s3.delete_object(Bucket=self.bucket, Key=self._key(address))
        except Exception as exc:  # noqa: BLE001
            raise self._unavailable(exc) from None
        return existed

    def addresses(self) -> Iterator[str]:
        try:
            for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix):
                for item in page.get("Contents", []):
                    name = str(item["Key"])[len(self.prefix) :]
                    if _SHA256.match(name):
                        yield name
        except Exception as exc:  # noqa: BLE001
            raise self._unavailable(exc) from None

    def sweep_incomplete(self) -> int:
        return 0  # S3 has no partial objects


def _code(exc: Exception) -> str | None:
    """The S3 error code of a botocore ClientError (None for connection errors and the rest)."""
    response = getattr(exc, "response", None)
    return response.get("Error", {}).get("Code") if isinstance(response, dict) else None
