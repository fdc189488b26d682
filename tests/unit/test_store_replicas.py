"""Replicated record stores against a real S3 API server (S3Proxy, started here): an upload is acknowledged
only once both places hold it; a read the primary fails (blob deleted or corrupted) is served from the
replica and repairs the primary; bad places are refused with a clear error."""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import pytest
from careledger_network.s3proxy import S3ProxyServer, free_port
from careledger_store import (
    BlobNotFound,
    BlobUnavailable,
    FileBlobStore,
    PlaceSpec,
    ReplicatedBlobStore,
    ReplicaWriteFailed,
    S3BlobStore,
    open_blobs,
)
from careledger_store.__main__ import main as store_main

from .s3proxy_fixtures import raw_client

PREFIX = "hospital1/"


def _replicated(tmp_path: Path, s3proxy: S3ProxyServer, bucket: str) -> ReplicatedBlobStore:
    blobs = open_blobs(PlaceSpec(str(tmp_path / "disk")), PlaceSpec(f"s3://{bucket}/{PREFIX}", s3proxy.endpoint))
    assert isinstance(blobs, ReplicatedBlobStore)
    return blobs


def _on_disk(tmp_path: Path, address: str) -> Path:
    return tmp_path / "disk" / address[:2] / address[2:4] / address


def _in_bucket(s3proxy: S3ProxyServer, bucket: str, address: str) -> bytes:
    return bytes(raw_client(s3proxy).get_object(Bucket=bucket, Key=PREFIX + address)["Body"].read())


def test_an_upload_returns_only_once_both_places_hold_it(tmp_path: Path, s3proxy: S3ProxyServer, bucket: str) -> None:
    blobs = _replicated(tmp_path, s3proxy, bucket)
    blob = os.urandom(5000)
    address = blobs.put(blob)
    assert address == hashlib.sha256(blob).hexdigest()
    assert _on_disk(tmp_path, address).read_bytes() == blob
    assert _in_bucket(s3proxy, bucket, address) == blob
    assert list(blobs.addresses()) == [address]


def test_a_replica_down_fails_the_upload_and_the_scrub_completes_it_later(
    tmp_path: Path, s3proxy: S3ProxyServer, bucket: str
) -> None:
    from careledger_store import scrub

    blobs = _replicated(tmp_path, s3proxy, bucket)
    blob = os.urandom(3000)
    address = hashlib.sha256(blob).hexdigest()
    with s3proxy.stopped():
        with pytest.raises(ReplicaWriteFailed, match="not acknowledged") as info:
            blobs.put(blob)
        assert "replica" in str(info.value)
        assert bucket in str(info.value)
        # Not rolled back (see _replicas.py): the primary's copy is right, only not yet replicated.
        assert _on_disk(tmp_path, address).exists()
    report = scrub(blobs, [address])
    assert [(f.place, f.problem, f.repaired) for f in report.findings] == [("replica", "missing", True)]
    assert _in_bucket(s3proxy, bucket, address) == blob
    assert scrub(blobs, [address]).findings == []


@pytest.mark.parametrize("damage", ["deleted", "corrupted"])
def test_a_read_falls_back_to_the_replica_and_repairs_the_primary(
    tmp_path: Path, s3proxy: S3ProxyServer, bucket: str, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    blobs = _replicated(tmp_path, s3proxy, bucket)
    blob = os.urandom(4000)
    address = blobs.put(blob)
    path = _on_disk(tmp_path, address)
    if damage == "deleted":
        path.unlink()
    else:
        path.write_bytes(b"bit rot" + blob[7:])
    with caplog.at_level(logging.WARNING, logger="careledger_store"):
        assert blobs.get(address) == blob
    assert path.read_bytes() == blob  # repaired
    assert f"blob {address} was {'missing' if damage == 'deleted' else 'corrupt'} in the primary: repaired" in (
        caplog.text
    )
    assert blob.hex()[:32] not in caplog.text  # addresses only, never content


def test_two_buckets_the_primary_missing_a_blob_is_repaired_from_the_replica(
    s3proxy: S3ProxyServer, bucket: str
) -> None:
    second = f"{bucket}-replica"
    raw_client(s3proxy).create_bucket(Bucket=second)
    blobs = open_blobs(
        PlaceSpec(f"s3://{bucket}/{PREFIX}", s3proxy.endpoint), PlaceSpec(f"s3://{second}/{PREFIX}", s3proxy.endpoint)
    )
    blob = os.urandom(2000)
    address = blobs.put(blob)
    raw_client(s3proxy).delete_object(Bucket=bucket, Key=PREFIX + address)
    assert blobs.get(address) == blob
    assert _in_bucket(s3proxy, bucket, address) == blob


def test_a_blob_whole_nowhere_is_not_found_and_an_erasure_deletes_both_copies(
    tmp_path: Path, s3proxy: S3ProxyServer, bucket: str
) -> None:
    blobs = _replicated(tmp_path, s3proxy, bucket)
    with pytest.raises(BlobNotFound, match="in either place"):
        blobs.get("ab" * 32)
    address = blobs.put(b"erase me")
    assert blobs.delete(address)
    assert not blobs.exists(address)
    assert not _on_disk(tmp_path, address).exists()


def test_a_missing_bucket_or_an_unreachable_endpoint_is_a_clear_error(
    tmp_path: Path, s3proxy: S3ProxyServer, bucket: str
) -> None:
    disk = PlaceSpec(str(tmp_path / "disk"))
    with pytest.raises(BlobUnavailable, match="the bucket 'no-such-bucket' does not exist"):
        open_blobs(disk, PlaceSpec(f"s3://no-such-bucket/{PREFIX}", s3proxy.endpoint), check=True)
    nothing_there = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(BlobUnavailable, match=rf"at {nothing_there} could not be used \(EndpointConnectionError\)"):
        open_blobs(disk, PlaceSpec(f"s3://{bucket}/{PREFIX}", nothing_there), check=True)
    with pytest.raises(BlobUnavailable, match="could not be used"):
        S3BlobStore(bucket, PREFIX, endpoint_url=nothing_there).put(b"x")


def test_the_store_server_refuses_to_start_on_an_unusable_replica(
    tmp_path: Path, s3proxy: S3ProxyServer, caplog: pytest.LogCaptureFixture
) -> None:
    args = ["--org-msp", "Hospital1MSP", "--profile", str(tmp_path / "p.json"), "--identity", "h1-admin"]
    args += ["--data", str(tmp_path / "disk"), "--listen", "127.0.0.1:1", "--tls-cert", "c", "--tls-key", "k"]
    args += ["--replica", f"s3://no-such-bucket/{PREFIX}", "--replica-endpoint", s3proxy.endpoint]
    with caplog.at_level(logging.ERROR, logger="careledger_store"):
        assert store_main(args) == 2
    assert "not started: the bucket s3://no-such-bucket/hospital1/" in caplog.text
    assert "does not exist" in caplog.text


def test_file_store_puts_repair_a_corrupt_copy(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)
    address = store.put(b"ciphertext")
    path = tmp_path / address[:2] / address[2:4] / address
    path.write_bytes(b"rotten")
    assert store.put(b"ciphertext") == address
    assert store.get(address) == b"ciphertext"
    assert list(store.addresses()) == [address]


def test_the_served_store_acknowledges_an_upload_only_once_the_replica_holds_it(
    tmp_path: Path, s3proxy: S3ProxyServer, bucket: str
) -> None:
    from careledger.store import StoreClient, StoreError

    from .test_store_support import CA, StoreProcess

    ca = CA("Hospital1MSP")
    replica = PlaceSpec(f"s3://{bucket}/{PREFIX}", s3proxy.endpoint)
    store = StoreProcess(tmp_path, [ca], replica=replica, threads=2, max_connections=4)
    try:
        kept, refused = os.urandom(3000), os.urandom(3000)
        record = {"custodian": "Hospital1MSP", "patient_id": "h1-patient-1@Hospital1MSP", "status": "active"}
        store.set_ledger(
            {
                "records": {
                    "rec-kept": {**record, "ciphertext_sha256": hashlib.sha256(kept).hexdigest()},
                    "rec-refused": {**record, "ciphertext_sha256": hashlib.sha256(refused).hexdigest()},
                }
            }
        )
        client = StoreClient(
            f"https://127.0.0.1:{store.port}", store.cert.read_bytes(), ca.member("h1-clinician-1", "clinician")
        )
        address = client.put(kept, "rec-kept")
        assert _in_bucket(s3proxy, bucket, address) == kept
        with s3proxy.stopped(), pytest.raises(StoreError) as info:
            client.put(refused, "rec-refused")
        assert (info.value.status, info.value.code) == (503, "UNAVAILABLE")
        assert "could not keep the blob; retry" in str(info.value)
        assert "upload for record rec-refused not stored: the blob was not stored: the replica" in store.log()
        # The retry, with the replica back, is acknowledged and completes the second copy.
        assert client.put(refused, "rec-refused") == hashlib.sha256(refused).hexdigest()
        assert _in_bucket(s3proxy, bucket, hashlib.sha256(refused).hexdigest()) == refused
    finally:
        assert store.stop() == 0, store.log()
    assert "Traceback" not in store.log()
