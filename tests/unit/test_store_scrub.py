"""The record-store scrub (careledger-network store verify) against a real S3 API server (S3Proxy): it reports
missing and corrupt blobs per place, repairs them from the other place, names blobs the ledger expects that no
place holds whole; and `record_store:` in consortium.yaml is parsed once, with clear errors."""

from __future__ import annotations

import copy
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from careledger_network.cli import main as network_cli
from careledger_network.consortium import DEFAULT_PATH, ConsortiumError, StoreReplica, parse
from careledger_network.s3proxy import S3ProxyServer
from careledger_network.store_places import store_places
from careledger_store import PlaceSpec, ReplicatedBlobStore, open_blobs, scrub
from click.testing import CliRunner

from .s3proxy_fixtures import raw_client

PREFIX = "blobs/"


def _damage(tmp: Path, s3proxy: S3ProxyServer, bucket: str, blobs: ReplicatedBlobStore) -> dict[str, str]:
    """Six blobs in both places, then one deleted and one corrupted in each place; their addresses by fate."""
    addresses = [blobs.put(os.urandom(1000 + i)) for i in range(6)]
    disk = tmp / "stores" / "hospital1"
    s3 = raw_client(s3proxy)
    on_disk = {a: disk / a[:2] / a[2:4] / a for a in addresses}
    on_disk[addresses[0]].unlink()
    on_disk[addresses[1]].write_bytes(b"rot")
    s3.delete_object(Bucket=bucket, Key=PREFIX + addresses[2])
    s3.put_object(Bucket=bucket, Key=PREFIX + addresses[3], Body=b"tampered")
    return {"primary missing": addresses[0], "primary corrupt": addresses[1], "replica missing": addresses[2]} | {
        "replica corrupt": addresses[3]
    }


def _blobs(tmp: Path, s3proxy: S3ProxyServer, bucket: str) -> ReplicatedBlobStore:
    blobs = open_blobs(
        PlaceSpec(str(tmp / "stores" / "hospital1")), PlaceSpec(f"s3://{bucket}/{PREFIX}", s3proxy.endpoint)
    )
    assert isinstance(blobs, ReplicatedBlobStore)
    return blobs


def test_the_scrub_reports_each_place_and_repairs_from_the_other(
    tmp_path: Path, s3proxy: S3ProxyServer, bucket: str
) -> None:
    blobs = _blobs(tmp_path, s3proxy, bucket)
    fates = _damage(tmp_path, s3proxy, bucket, blobs)
    never_stored = hashlib.sha256(b"on the ledger, in no place").hexdigest()

    looked = scrub(blobs, [never_stored], repair=False)
    assert looked.checked == 7
    assert looked.lost == [never_stored]
    assert {(f.place, f.problem) for f in looked.findings if f.address != never_stored} == {
        ("primary", "missing"),
        ("primary", "corrupt"),
        ("replica", "missing"),
        ("replica", "corrupt"),
    }
    assert not any(f.repaired for f in looked.findings)

    report = scrub(blobs, [never_stored])
    repaired = {f"{f.place} {f.problem}": f.address for f in report.findings if f.repaired}
    assert repaired == fates
    assert report.lost == [never_stored]
    assert not report.clean
    assert report.per_second > 0
    for address in fates.values():  # whole in both places again
        assert blobs.primary.get(address)
        assert blobs.replica.get(address)
    assert scrub(blobs).findings == []
    assert scrub(blobs).clean


def _consortium_file(tmp: Path, record_store: Any) -> Path:
    doc = yaml.safe_load(DEFAULT_PATH.read_text())
    doc["orgs"][0]["record_store"] = record_store
    path = tmp / "consortium.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_store_verify_scrubs_the_org_store_named_in_the_consortium(
    tmp_path: Path, s3proxy: S3ProxyServer, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CARELEDGER_STATE", str(tmp_path))
    consortium = _consortium_file(tmp_path, {"replica": "s3", "bucket": bucket, "endpoint": s3proxy.endpoint})
    blobs = _blobs(tmp_path, s3proxy, bucket)
    fates = _damage(tmp_path, s3proxy, bucket, blobs)
    expect = tmp_path / "ledger.txt"
    expect.write_text("\n".join(fates.values()) + "\n")
    verify = [
        "store",
        "verify",
        "--no-ledger",
        "--consortium",
        str(consortium),
        "--org",
        "hospital1",
        "--expect",
        str(expect),
    ]

    first = CliRunner().invoke(network_cli, [*verify, "--json"])
    assert first.exit_code == 0, first.output  # every finding repaired
    summary = json.loads(first.output)
    assert summary["problems"] == {
        "primary": {"missing": 1, "corrupt": 1, "unavailable": 0},
        "replica": {"missing": 1, "corrupt": 1, "unavailable": 0},
    }
    assert summary["repaired"] == 4
    assert summary["checked"] == 6
    assert summary["lost"] == []

    again = CliRunner().invoke(network_cli, verify)
    assert again.exit_code == 0, again.output
    assert "primary: 0 missing, 0 corrupt, 0 unavailable" in again.output
    assert "checked 6 blobs in " in again.output
    assert "blobs/s" in again.output

    expect.write_text(hashlib.sha256(b"lost").hexdigest() + "\n")
    lost = CliRunner().invoke(network_cli, verify)
    assert lost.exit_code == 1
    assert "lost (whole in no place) 1" in lost.output
    assert "careledger record flush" in lost.output  # where a lost ciphertext may still be
    assert "careledger record flush" not in again.output

    expect.write_text("not-a-hash\n")
    bad = CliRunner().invoke(network_cli, verify)
    assert bad.exit_code == 2
    assert "not a blob address" in bad.output


def test_store_verify_names_a_bucket_it_cannot_use(
    tmp_path: Path, s3proxy: S3ProxyServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CARELEDGER_STATE", str(tmp_path))
    consortium = _consortium_file(tmp_path, {"replica": "s3", "bucket": "never-made", "endpoint": s3proxy.endpoint})
    result = CliRunner().invoke(
        network_cli, ["store", "verify", "--no-ledger", "--consortium", str(consortium), "--org", "h1"]
    )
    assert result.exit_code == 2
    assert "unknown organization 'h1'" in result.output
    result = CliRunner().invoke(network_cli, ["store", "verify", "--consortium", str(consortium), "--org", "hospital1"])
    assert result.exit_code == 1
    assert "the bucket 'never-made' does not exist" in result.output


# -- record_store in consortium.yaml ---------------------------------------------------------------------------------
@pytest.fixture
def doc() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(DEFAULT_PATH.read_text())
    return loaded


def test_record_store_true_is_local_only_and_a_mapping_names_the_replica(doc: dict[str, Any], tmp_path: Path) -> None:
    doc["orgs"][0]["record_store"] = True
    c = parse(doc)
    assert c.orgs[0].store_port
    assert c.orgs[0].store_replica is None
    assert store_places(tmp_path, c.orgs[0]).args() == [f"--data={tmp_path / 'stores' / 'hospital1'}"]
    doc["orgs"][0]["record_store"] = {"replica": "s3proxy"}  # the default consortium's: served by the network
    served = parse(doc).orgs[0]
    assert served.store_replica == StoreReplica(
        kind="s3proxy", bucket="replica", endpoint="https://127.0.0.1:7109", server_port=7109
    )
    assert store_places(tmp_path, served).env == {
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "replicas" / "hospital1" / "credentials"),
        "AWS_CA_BUNDLE": str(tmp_path / "crypto" / "hospital1" / "ca" / "ca-cert.pem"),  # it serves HTTPS only
    }
    doc["orgs"][0]["record_store"] = {
        "replica": "s3",
        "bucket": "h1-replica",
        "endpoint": "https://s3.example:9000/",
        "credentials_file": "/etc/careledger/s3-credentials",
    }
    org = parse(doc).orgs[0]
    assert org.store_port == org.port_base + 5
    assert org.store_replica == StoreReplica(
        kind="s3",
        bucket="h1-replica",
        endpoint="https://s3.example:9000",
        credentials_file="/etc/careledger/s3-credentials",
    )
    places = store_places(tmp_path, org)
    assert places.args() == [
        f"--data={tmp_path / 'stores' / 'hospital1'}",
        "--s3-endpoint=https://s3.example:9000",
        "--replica=s3://h1-replica/blobs/",
    ]
    assert places.env == {"AWS_SHARED_CREDENTIALS_FILE": "/etc/careledger/s3-credentials"}
    doc["orgs"][0]["record_store"] |= {"primary_bucket": "h1-primary"}
    assert store_places(tmp_path, parse(doc).orgs[0]).primary == "s3://h1-primary/blobs/"


@pytest.mark.parametrize(
    ("record_store", "message"),
    [
        ({"replica": "nfs", "bucket": "b-1"}, r"record_store.replica: 'nfs' is not a replica kind; use one of: s3"),
        ({"replica": "s3"}, r"record_store: missing 'bucket'"),
        ({"bucket": "b-1"}, r"record_store: missing 'replica'"),
        ({"replica": "s3", "bucket": "Bad_Bucket"}, r"record_store.bucket: 'Bad_Bucket' is not an S3 bucket name"),
        ({"replica": "s3", "bucket": "b-1", "endpoint": "ftp://x"}, r"record_store.endpoint: 'ftp://x' must be"),
        ({"replica": "s3", "bucket": "b-1", "primary_bucket": "b-1"}, r"bucket and primary_bucket are the same"),
        ({"replica": "s3", "bucket": "b-1", "prefix": "no-slash"}, r"record_store.prefix: 'no-slash' must end"),
        ({"replica": "s3", "bucket": "b-1", "secret": "x"}, r"unknown key\(s\) secret"),
        ("yes please", r"must be true, false or a mapping"),
        ({"replica": "s3proxy", "endpoint": "https://x"}, r"endpoint cannot be set for replica: s3proxy"),
        ({"replica": "s3proxy", "bucket": "Bad_Bucket"}, r"record_store.bucket: 'Bad_Bucket' is not an S3 bucket"),
    ],
)
def test_bad_record_store_settings_say_what_is_wrong(doc: dict[str, Any], record_store: Any, message: str) -> None:
    bad = copy.deepcopy(doc)
    bad["orgs"][0]["record_store"] = record_store
    with pytest.raises(ConsortiumError, match=rf"orgs\[0\]\.{message}" if message.startswith("record") else message):
        parse(bad)
