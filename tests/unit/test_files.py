"""Atomic writes: a failure mid-write leaves the old content (and no stray temporary file)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from careledger._files import write_atomic
from careledger_store import BlobError, BlobNotFound, FileBlobStore


def test_write_replaces_whole_content(tmp_path: Path) -> None:
    target = tmp_path / "a" / "file.json"
    write_atomic(target, b"old")
    write_atomic(target, b"new", mode=0o600)
    assert target.read_bytes() == b"new"
    assert target.stat().st_mode & 0o777 == 0o600


def test_a_crash_before_the_rename_keeps_the_old_content(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "file.json"
    write_atomic(target, b"old")

    def crash(src: str, dst: str) -> None:
        raise OSError("killed")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="killed"):
        write_atomic(target, b"new" * 1000)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["file.json"]


def test_blob_store_is_content_addressed_and_checks_what_it_reads(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)
    address = store.put(b"ciphertext")
    assert address == hashlib.sha256(b"ciphertext").hexdigest()
    assert store.get(address) == b"ciphertext"
    assert store.put(b"ciphertext") == address  # idempotent
    path = tmp_path / address[:2] / address[2:4] / address
    path.write_bytes(b"bit rot")
    with pytest.raises(BlobError, match="corrupt"):
        store.get(address)
    assert store.delete(address)
    with pytest.raises(BlobNotFound):
        store.get(address)
    with pytest.raises(BlobError, match="not a blob address"):
        store.get("../../etc/passwd")


def test_sweep_removes_only_incomplete_uploads(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)
    address = store.put(b"kept")
    leftover = tmp_path / address[:2] / address[2:4] / f".{address}.incoming-xyz"
    leftover.write_bytes(b"half")
    assert store.sweep_incomplete() == 1
    assert store.get(address) == b"kept"


@pytest.fixture(scope="module")
def s3_endpoint():  # type: ignore[no-untyped-def]
    """An S3-compatible server on loopback (moto), with a bucket."""
    import boto3
    from moto.server import ThreadedMotoServer

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="records")
    yield endpoint
    server.stop()


def test_s3_backend_behaves_like_the_file_store(s3_endpoint: str) -> None:
    from careledger_store import S3BlobStore

    store = S3BlobStore("records", "hospital1/", endpoint_url=s3_endpoint)
    address = store.put(b"ciphertext")
    assert address == hashlib.sha256(b"ciphertext").hexdigest()
    assert store.exists(address)
    assert store.get(address) == b"ciphertext"
    store._s3.put_object(Bucket="records", Key=f"hospital1/{address}", Body=b"bit rot")
    with pytest.raises(BlobError, match="corrupt"):
        store.get(address)
    assert store.delete(address)
    assert not store.exists(address)
    with pytest.raises(BlobNotFound):
        store.get(address)
    with pytest.raises(BlobError, match="not a blob address"):
        store.get("../x")
