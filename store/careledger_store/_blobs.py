"""Content-addressed storage of ciphertexts: a blob's name is its SHA-256.

Writes are atomic (temporary file, fsync, rename, fsync of the folder): a crash leaves either no
blob or the whole blob under its name, never part of one.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path
from typing import Any, Protocol

from careledger import CareLedgerError, write_atomic

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class BlobError(CareLedgerError):
    pass


class BlobNotFound(BlobError):
    pass


def check_address(address: str) -> str:
    if not _SHA256.match(address):
        raise BlobError(f"{address!r} is not a blob address (64 lower-case hex characters of SHA-256)")
    return address


class BlobStore(Protocol):
    def put(self, blob: bytes | bytearray) -> str: ...
    def get(self, address: str) -> bytes: ...
    def exists(self, address: str) -> bool: ...
    def delete(self, address: str) -> bool: ...


class FileBlobStore:
    """Blobs in a folder tree: <root>/ab/cd/<sha256>."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, address: str) -> Path:
        check_address(address)
        return self.root / address[:2] / address[2:4] / address

    def put(self, blob: bytes | bytearray) -> str:
        address = hashlib.sha256(blob).hexdigest()
        path = self._path(address)
        if path.exists():
            return address
        write_atomic(path, blob)
        return address

    def get(self, address: str) -> bytes:
        try:
            blob = self._path(address).read_bytes()
        except FileNotFoundError:
            raise BlobNotFound(f"no blob {address}") from None
        if hashlib.sha256(blob).hexdigest() != address:
            raise BlobError(f"blob {address} is corrupt on disk (its SHA-256 differs)")
        return blob

    def exists(self, address: str) -> bool:
        return self._path(address).exists()

    def delete(self, address: str) -> bool:
        try:
            self._path(address).unlink()
        except FileNotFoundError:
            return False
        return True

    def sweep_incomplete(self) -> int:
        """Remove temporary files a crash left behind (never a blob under its own name)."""
        removed = 0
        for tmp in self.root.glob("*/*/.*.incoming-*"):
            tmp.unlink(missing_ok=True)
            removed += 1
        return removed


class S3BlobStore:
    """Blobs in an S3-compatible bucket (AWS S3, MinIO, Ceph RGW, ...), under <prefix><sha256>.

    S3 writes an object whole or not at all, so a crash never leaves part of a blob under its name.
    Needs boto3 (`pip install boto3`); credentials and region come from boto3's usual sources.
    """

    def __init__(
        self, bucket: str, prefix: str = "blobs/", endpoint_url: str | None = None, client: object = None
    ) -> None:
        if client is None:
            try:
                import boto3
            except ImportError:
                raise BlobError("the S3 backend needs boto3: pip install boto3") from None
            client = boto3.client("s3", endpoint_url=endpoint_url)
        self._s3: Any = client
        self.bucket, self.prefix = bucket, prefix

    def _key(self, address: str) -> str:
        return self.prefix + check_address(address)

    def put(self, blob: bytes | bytearray) -> str:
        address = hashlib.sha256(blob).hexdigest()
        digest = base64.b64encode(hashlib.md5(blob, usedforsecurity=False).digest()).decode()
        self._s3.put_object(Bucket=self.bucket, Key=self._key(address), Body=bytes(blob), ContentMD5=digest)
        return address

    def get(self, address: str) -> bytes:
        try:
            blob = self._s3.get_object(Bucket=self.bucket, Key=self._key(address))["Body"].read()
        except self._s3.exceptions.NoSuchKey:
            raise BlobNotFound(f"no blob {address}") from None
        if hashlib.sha256(blob).hexdigest() != address:
            raise BlobError(f"blob {address} is corrupt in the bucket (its SHA-256 differs)")
        return bytes(blob)

    def exists(self, address: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self._s3.head_object(Bucket=self.bucket, Key=self._key(address))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def delete(self, address: str) -> bool:
        existed = self.exists(address)
        self._s3.delete_object(Bucket=self.bucket, Key=self._key(address))
        return existed

    def sweep_incomplete(self) -> int:
        return 0  # S3 has no partial objects
