"""A restore checks a backup before it changes anything: the organization, the consortium, every file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from careledger_network.backup_manifest import (
    FORMAT,
    BackupError,
    FileEntry,
    Manifest,
    consortium_fingerprint,
    list_files,
)
from careledger_network.consortium import Consortium, load
from careledger_network.release_archives import sha256_of


@pytest.fixture(scope="module")
def consortium() -> Consortium:
    return load()


def _backup(folder: Path, consortium: Consortium, genesis: Path, org_key: str = "hospital1") -> Manifest:
    (folder / "parts" / "wallets").mkdir(parents=True)
    (folder / "parts" / "wallets" / "admin.json").write_text('{"sealed": "..."}')
    (folder / "snapshot").mkdir()
    (folder / "snapshot" / "txids.data").write_bytes(b"\x00\x01" * 100)
    org = consortium.org(org_key)
    files = {rel: FileEntry(sha256_of(p), p.stat().st_size) for rel, p in list_files(folder).items()}
    manifest = Manifest(consortium_fingerprint(consortium, genesis), org.key, org.msp_id, "2026-11-28T18:00:00Z", 41,
                        org.peers[0].name, files)  # fmt: skip
    (folder / "manifest.json").write_text(manifest.to_json())
    return manifest


@pytest.fixture
def genesis(tmp_path: Path) -> Path:
    block = tmp_path / "careledger.block"
    block.write_bytes(b"genesis of this consortium")
    return block


def test_a_backup_reads_back_and_passes_its_own_checks(tmp_path: Path, consortium: Consortium, genesis: Path) -> None:
    written = _backup(tmp_path / "b", consortium, genesis)
    read = Manifest.read(tmp_path / "b")
    assert read == written
    read.check_belongs(consortium, consortium.org("hospital1"), consortium_fingerprint(consortium, genesis))
    read.check_files(tmp_path / "b")


def test_a_backup_of_another_organization_is_refused(tmp_path: Path, consortium: Consortium, genesis: Path) -> None:
    _backup(tmp_path / "b", consortium, genesis, "hospital2")
    with pytest.raises(BackupError, match=r"of hospital2 \(Hospital2MSP\), not of hospital1.*--org hospital2"):
        Manifest.read(tmp_path / "b").check_belongs(
            consortium, consortium.org("hospital1"), consortium_fingerprint(consortium, genesis)
        )


def test_a_backup_of_another_consortium_is_refused(tmp_path: Path, consortium: Consortium, genesis: Path) -> None:
    _backup(tmp_path / "b", consortium, genesis)
    other = tmp_path / "other.block"
    other.write_bytes(b"genesis of an earlier network with the same channel name")
    with pytest.raises(BackupError, match="taken on another consortium"):
        Manifest.read(tmp_path / "b").check_belongs(
            consortium, consortium.org("hospital1"), consortium_fingerprint(consortium, other)
        )


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (
            lambda b: (b / "parts" / "wallets" / "admin.json").write_text('{"sealed": "!!!"}'),
            "is damaged: parts/wallets",
        ),
        (lambda b: (b / "snapshot" / "txids.data").write_bytes(b"\x00\x01" * 99), "is damaged: snapshot/txids.data"),
        (lambda b: (b / "snapshot" / "txids.data").unlink(), "1 files missing"),
        (lambda b: (b / "parts" / "extra.pem").write_text("x"), "1 files not in the manifest"),
    ],
    ids=["changed", "truncated", "missing", "added"],
)
def test_a_backup_that_differs_from_its_manifest_is_refused(
    tmp_path: Path, consortium: Consortium, genesis: Path, damage: object, message: str
) -> None:
    _backup(tmp_path / "b", consortium, genesis)
    damage(tmp_path / "b")  # type: ignore[operator]
    with pytest.raises(BackupError, match=message):
        Manifest.read(tmp_path / "b").check_files(tmp_path / "b")


def test_what_is_not_a_backup_says_so(tmp_path: Path, consortium: Consortium, genesis: Path) -> None:
    with pytest.raises(BackupError, match=r"is not an organization backup: it has no manifest\.json"):
        Manifest.read(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"format": "something-else/9"}))
    with pytest.raises(BackupError, match=f"this version restores {FORMAT} backups only"):
        Manifest.read(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"format": FORMAT, "files": []}))
    with pytest.raises(BackupError, match="not a readable backup manifest"):
        Manifest.read(tmp_path)
    with pytest.raises(BackupError, match="no genesis block"):
        consortium_fingerprint(consortium, tmp_path / "missing.block")
