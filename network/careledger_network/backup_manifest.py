"""What one organization's backup holds, and the checks a restore makes before it changes anything.

A backup is a folder: `manifest.json` and the organization's parts under `parts/<name>/`, plus the peer's
ledger snapshot under `snapshot/`. The manifest names the consortium (the channel and the SHA-256 of its
genesis block, so a backup of another consortium, or of an earlier network of the same name, is refused),
the organization, when it was taken, the block the snapshot stands at, and every file's SHA-256 and size.
A restore reads every file against the manifest first: a file missing, added, or changed refuses the restore.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from .consortium import Consortium, Org
from .errors import NetworkError
from .release_archives import sha256_of

FORMAT = "careledger-org-backup/1"
MANIFEST = "manifest.json"


class BackupError(NetworkError):
    """A backup or restore refused: the message says what was wrong and what to do; nothing was changed."""


def consortium_fingerprint(c: Consortium, genesis_block: Path) -> str:
    """The channel's name and its genesis block's SHA-256: the same for every organization of one consortium."""
    if not genesis_block.is_file():
        raise BackupError(
            f"no genesis block at {genesis_block}: this state folder holds no network of channel {c.channel}; "
            "create or copy it first (`make network-up`, or the organization's bundle)"
        )
    return f"{c.channel}:{hashlib.sha256(genesis_block.read_bytes()).hexdigest()}"


def list_files(root: Path) -> dict[str, Path]:
    """Every regular file under `root`, by its path relative to `root` (POSIX separators)."""
    found = {}
    for folder, _dirs, files in os.walk(root):
        for name in files:
            path = Path(folder) / name
            relative = path.relative_to(root).as_posix()
            if relative != MANIFEST:
                found[relative] = path
    return found


@dataclass(frozen=True)
class FileEntry:
    sha256: str
    size: int


@dataclass(frozen=True)
class Manifest:
    consortium: str
    org: str
    msp_id: str
    created: str  # UTC, ISO 8601
    snapshot_block: int  # the last block the peer snapshot holds
    peer: str
    files: dict[str, FileEntry]

    def to_json(self) -> str:
        doc = {
            "format": FORMAT,
            "consortium": self.consortium,
            "org": self.org,
            "msp_id": self.msp_id,
            "created": self.created,
            "snapshot_block": self.snapshot_block,
            "peer": self.peer,
            "files": {name: {"sha256": e.sha256, "size": e.size} for name, e in sorted(self.files.items())},
        }
        return json.dumps(doc, indent=2, sort_keys=True) + "\n"

    @classmethod
    def read(cls, folder: Path) -> Manifest:
        path = folder / MANIFEST
        if not path.is_file():
            raise BackupError(f"{folder} is not an organization backup: it has no {MANIFEST}")
        try:
            doc = json.loads(path.read_text())
            if doc.get("format") != FORMAT:
                raise BackupError(
                    f"{path} is of format {doc.get('format')!r}; this version restores {FORMAT} backups only"
                )
            files = {name: FileEntry(str(e["sha256"]), int(e["size"])) for name, e in doc["files"].items()}
            return cls(
                consortium=str(doc["consortium"]),
                org=str(doc["org"]),
                msp_id=str(doc["msp_id"]),
                created=str(doc["created"]),
                snapshot_block=int(doc["snapshot_block"]),
                peer=str(doc["peer"]),
                files=files,
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BackupError(f"{path} is not a readable backup manifest ({type(exc).__name__}: {exc})") from None

    def check_belongs(self, c: Consortium, org: Org, fingerprint: str) -> None:
        """Refuse a backup of another organization or another consortium."""
        if self.org != org.key or self.msp_id != org.msp_id:
            raise BackupError(
                f"this backup is of {self.org} ({self.msp_id}), not of {org.key} ({org.msp_id}): "
                f"restore it with --org {self.org}, or pick {org.key}'s backup"
            )
        if self.consortium != fingerprint:
            raise BackupError(
                f"this backup was taken on another consortium (channel and genesis block {self.consortium[:40]}…, "
                f"this one is {fingerprint[:40]}…): restore a backup of this network"
            )

    def check_files(self, folder: Path) -> None:
        """Every file present, none added, each with its recorded size and SHA-256."""
        present = list_files(folder)
        missing = sorted(set(self.files) - set(present))
        added = sorted(set(present) - set(self.files))
        if missing or added:
            raise BackupError(
                f"the backup in {folder} does not match its manifest: "
                + "; ".join(
                    part
                    for part in (
                        f"{len(missing)} files missing (first: {missing[0]})" if missing else "",
                        f"{len(added)} files not in the manifest (first: {added[0]})" if added else "",
                    )
                    if part
                )
                + ". Use an intact copy of the backup"
            )
        for name, entry in sorted(self.files.items()):
            path = present[name]
            if path.stat().st_size != entry.size or sha256_of(path) != entry.sha256:
                raise BackupError(
                    f"the backup in {folder} is damaged: {name} differs from its manifest. Use an intact copy"
                )
