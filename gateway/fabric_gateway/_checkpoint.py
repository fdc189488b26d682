"""Where an event listener got to, so that a restarted listener resumes without missing events.

A checkpoint holds the next block to read and, inside it, the last transaction already handled. The
application checkpoints after it has handled an event: a crash between receiving and handling means the
event comes again (at least once), never that it is lost.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Protocol

from ._events import ChaincodeEvent


class Checkpoint(Protocol):
    """What an events request reads from a checkpointer to know where to start."""

    @property
    def block_number(self) -> int | None: ...  # the next block to read; None before the first checkpoint
    @property
    def transaction_id(self) -> str: ...  # the last transaction handled in that block ("" for none)


class InMemoryCheckpointer:
    """A checkpoint kept for the life of the process (e.g. to resume a listener after a network error)."""

    def __init__(self) -> None:
        self._block_number: int | None = None
        self._transaction_id = ""

    @property
    def block_number(self) -> int | None:
        return self._block_number

    @property
    def transaction_id(self) -> str:
        return self._transaction_id

    def checkpoint_block(self, block_number: int) -> None:
        """Every event of this block was handled: resume at the next one."""
        self._save(block_number + 1, "")

    def checkpoint_transaction(self, block_number: int, transaction_id: str) -> None:
        """Events up to this transaction of this block were handled."""
        self._save(block_number, transaction_id)

    def checkpoint_chaincode_event(self, event: ChaincodeEvent) -> None:
        self.checkpoint_transaction(event.block_number, event.transaction_id)

    def _save(self, block_number: int, transaction_id: str) -> None:
        self._block_number, self._transaction_id = block_number, transaction_id


class FileCheckpointer(InMemoryCheckpointer):
    """A checkpoint kept in a JSON file, replaced atomically at every checkpoint, so it survives restarts."""

    def __init__(self, path: Path | str) -> None:
        super().__init__()
        self.path = Path(path)
        if self.path.exists():
            try:
                doc = json.loads(self.path.read_text())
                self._block_number, self._transaction_id = doc["block_number"], doc["transaction_id"]
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{self.path} is not a checkpoint file ({exc}): move it away to start over") from None

    def _save(self, block_number: int, transaction_id: str) -> None:
        doc = json.dumps({"block_number": block_number, "transaction_id": transaction_id}).encode()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(doc)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        super()._save(block_number, transaction_id)
