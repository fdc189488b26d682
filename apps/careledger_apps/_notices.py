"""The portal's notification area: what happened on the patient's records since their last visit — others'
accesses, emergencies, refusals, model results (and consent requests, when the session offers them).

"Last seen" is the portal's own bookkeeping, never the ledger's: a marker per patient kept by the portal
(`SeenMarkers`), in memory, and in a file when SEEN_FILE is configured so it outlives a restart. The file holds
only a digest of each patient's id and a time."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from careledger_protocol import AuditEvent, Inference

Kind = Literal["access", "emergency", "refused", "model", "request"]
MAX_SHOWN = 8


@dataclass
class SeenMarkers:
    """When each patient last marked their notifications as seen (ISO 8601 UTC), by a digest of their id."""

    path: Path | None = None
    _marks: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if self.path is not None and self.path.exists():
            try:
                loaded = json.loads(self.path.read_text())
                self._marks = {str(k): str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}
            except (OSError, ValueError):
                self._marks = {}  # a damaged file: everything shows as new once, nothing breaks

    @staticmethod
    def _key(member_id: str) -> str:
        return hashlib.sha256(member_id.encode()).hexdigest()

    def last_seen(self, member_id: str) -> str:
        with self._lock:
            return self._marks.get(self._key(member_id), "")

    def mark(self, member_id: str, moment: str) -> None:
        with self._lock:
            self._marks[self._key(member_id)] = moment
            if self.path is not None:
                temporary = self.path.with_name(f".{self.path.name}.tmp")
                temporary.write_text(json.dumps(self._marks))
                os.replace(temporary, self.path)


@dataclass(frozen=True)
class Notice:
    kind: Kind
    time: str
    who: str  # a member id, named by the page
    record_id: str
    text: str  # what happened, in words (without the name: the page puts it first)


@dataclass(frozen=True)
class Notices:
    items: list[Notice]  # newest first, at most MAX_SHOWN
    total: int
    since: str


def notices_since(
    since: str,
    patient_id: str,
    events: Iterable[AuditEvent],
    inferences: Iterable[Inference],
    requests: Sequence[Any] = (),
) -> Notices:
    """What is new since `since` ("": everything): accesses by others (emergencies and refusals said as such),
    model results on the patient's records, and pending consent requests."""
    found: list[Notice] = []
    seen_tx: set[tuple[str, str]] = set()
    for event in events:
        if event["time"] <= since or event["requester"] == patient_id:
            continue
        key = (event["tx_id"], event["decision"])
        if key in seen_tx:  # one notice per access transaction and outcome, not one per record
            continue
        seen_tx.add(key)
        if event["emergency"]:
            kind: Kind = "emergency"
            text = "opened your record in an emergency"
        elif event["decision"] == "denied":
            kind, text = "refused", "was refused access to your record"
        else:
            kind, text = "access", "opened your record"
        found.append(Notice(kind, event["time"], event["requester"], event["record_id"], text))
    for inference in inferences:
        if inference["time"] > since:
            text = f"ran the model {inference['model_id']} on your record"
            found.append(Notice("model", inference["time"], inference["requester"], inference["record_id"], text))
    for request in requests:
        created = str(request.get("created_at", ""))
        if request.get("status") == "pending" and created > since:
            who = str(request.get("requester", ""))
            found.append(Notice("request", created, who, "", "asks for access to your records"))
    found.sort(key=lambda n: n.time, reverse=True)
    return Notices(found[:MAX_SHOWN], len(found), since)
