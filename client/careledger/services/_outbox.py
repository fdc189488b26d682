"""The upload outbox: ciphertexts that the ledger names, or is about to, and that their custodian's record
store may not hold yet.

The store accepts only a ciphertext whose SHA-256 the ledger already names, so a record (or a new version)
is registered first and uploaded second. Between the two, the ciphertext exists nowhere but in the
client: were the upload to fail (the store down, the network cut, the process killed), the ledger would
name a record that no store holds and that nobody could ever open. So the ciphertext is written here first,
durably and for the owner only (careledger.write_atomic, mode 0600), before the ledger call; the upload
removes it; a refused ledger call removes it (nothing was registered). When the upload fails, it stays until
`Session.flush_outbox` uploads it: `careledger record flush`, the hospital app's background job
(careledger_apps._releaser) each round, or the next record created or rotated with the same outbox. Only
ciphertext is ever kept here, never plaintext: it opens for nobody without a record key from the ledger.

Where it is: the profile's `x-careledger.outbox` if it names one, else beside the organization's wallets,
derived from the wallet folder (careledger.connection.outbox_dir) so that the hospital app, the CLI and the
scripts of one organization share it: the network's layout `<state>/wallets/<org key>` has its outbox in
`<state>/outbox/<org key>`; a wallet folder elsewhere keeps it in its own hidden `.outbox` sub-folder.
Inside (folders 0700): one folder per custodian MSP, one file per ciphertext, named by the record, the
version and the ciphertext's SHA-256: `<custodian MSP>/<record id>.v<version>.<sha256>`.

Who holds an entry: the process that writes one keeps an exclusive flock on it until its ledger call and
its upload are over, so that a flush (in any process) skips an entry still in flight; a flush takes the same
lock, without waiting, for each entry it uploads or drops. A lock dies with its process.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from careledger_protocol.ids import MSP_ID

from .._files import write_atomic

# The ledger's syntax of a record id (the chaincode's object_id): also a safe file name, never hidden.
RECORD_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$")
_ENTRY = re.compile(
    r"^(?P<record_id>[A-Za-z0-9][A-Za-z0-9._@-]{0,127})\.v(?P<version>[1-9][0-9]{0,9})\.(?P<address>[0-9a-f]{64})$"
)


@dataclass(frozen=True)
class Entry:
    """A ciphertext waiting in the outbox: where it is, and what the ledger should name it as."""

    path: Path
    custodian: str  # the MSP whose store keeps it
    record_id: str
    version: int
    address: str  # its SHA-256, as its name says (the content is checked against it before an upload)


class Held:
    """An entry under this process's exclusive lock: read it, then `remove` it (uploaded, or never
    registered) or `release` it (it stays for a later flush). Leaving a `with` block releases it."""

    def __init__(self, entry: Entry, fd: int) -> None:
        self.entry, self._fd = entry, fd

    def read(self) -> bytes:
        return self.entry.path.read_bytes()

    def age(self) -> float:
        """Seconds since the entry was written."""
        return time.time() - os.fstat(self._fd).st_mtime

    def remove(self) -> None:
        """Delete the entry, then let go of it."""
        if self._fd >= 0:
            self.entry.path.unlink(missing_ok=True)
        self.release()

    def release(self) -> None:
        """Let go of the entry; it stays in the outbox."""
        if self._fd >= 0:
            os.close(self._fd)  # closing the descriptor releases its flock
            self._fd = -1

    def __enter__(self) -> Held:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.release()


class Outbox:
    """One organization's outbox folder (see the module's docstring)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def __str__(self) -> str:
        return str(self.root)

    def keep(self, custodian: str, record_id: str, version: int, blob: bytes | bytearray) -> Held:
        """Write a ciphertext durably (0600) and hold it, before the ledger call that registers it."""
        if not MSP_ID.match(custodian):
            raise ValueError(f"{custodian!r} is not an MSP id")
        if not RECORD_ID.match(record_id):
            raise ValueError(
                f"record id {record_id!r} must be a letter or digit, then up to 127 of letters, digits, '.', '_', "
                "'@', '-'"
            )
        address = hashlib.sha256(blob).hexdigest()
        path = self._folder(custodian) / f"{record_id}.v{version}.{address}"
        entry = Entry(path, custodian, record_id, version, address)
        while True:
            write_atomic(entry.path, blob, mode=0o600)
            held = self._lock(entry, wait=True)
            if held is not None:  # else a flush took it away before this process held it: written again
                return held

    def entries(self) -> list[Entry]:
        """Every entry, oldest first (files the outbox did not write are left alone, as are write_atomic's
        temporary files)."""
        found = list(self._scan())
        return sorted(found, key=_written_at)

    def pending(self) -> int:
        """How many ciphertexts wait in the outbox (in flight or not)."""
        return sum(1 for _ in self._scan())

    def has_entries(self, besides: Path | None = None) -> bool:
        """Is anything waiting, other than `besides`? A look at the folders, no more."""
        return any(e.path != besides for e in self._scan())

    def discard(self, record_id: str) -> int:
        """Remove a record's entries (it was erased), but those in flight; how many were removed."""
        removed = 0
        for entry in self.entries():
            if entry.record_id == record_id:
                held = self.claim(entry)
                if held is not None:
                    held.remove()
                    removed += 1
        return removed

    def claim(self, entry: Entry) -> Held | None:
        """Hold an entry if nobody does (None: in flight in some process, or gone meanwhile)."""
        return self._lock(entry, wait=False)

    def _folder(self, custodian: str) -> Path:
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder = self.root / custodian
        folder.mkdir(mode=0o700, exist_ok=True)
        return folder

    def _scan(self) -> Iterator[Entry]:
        try:
            folders = [f for f in self.root.iterdir() if MSP_ID.match(f.name) and f.is_dir()]
        except FileNotFoundError:
            return
        for folder in folders:
            try:
                names = os.listdir(folder)
            except FileNotFoundError:
                continue
            for name in names:
                match = _ENTRY.match(name)
                if match:
                    yield Entry(
                        folder / name,
                        folder.name,
                        match["record_id"],
                        int(match["version"]),
                        match["address"],
                    )

    def _lock(self, entry: Entry, wait: bool) -> Held | None:
        try:
            fd = os.open(entry.path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
            # Still the file this name points to? A holder may have removed it while this one waited.
            if os.path.samestat(os.fstat(fd), os.stat(entry.path)):
                return Held(entry, fd)
        except (BlockingIOError, FileNotFoundError):
            pass
        os.close(fd)
        return None


def _written_at(entry: Entry) -> float:
    try:
        return entry.path.stat().st_mtime
    except FileNotFoundError:
        return 0.0
