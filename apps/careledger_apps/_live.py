"""The portal's live access log: which chaincode events become server-sent events for one patient.

Every event of the chaincode reaches every open live log, including events this page has no use for
(the diagnostics contract's, whose payloads are not JSON) and, in principle, damaged ones. One bad event
must never end the stream for everyone watching, so `LiveLog.lines` never raises: an event that is not
one of the healthcare contract's names, not a JSON object, too large, or missing what the page shows is
skipped and counted.

Patients may not read chaincode events themselves (the channel lets only peers, admins, auditors and
each organization's event reader do so: they carry whole blocks' worth of other people's activity). The
portal streams them as the patient's organization's event reader and passes on only that patient's.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from careledger.connection import connect
from careledger_protocol import EVENT_NAMES, Event
from fabric_gateway import Gateway, Network

# Each organization's service identity for chaincode events, in its wallet (careledger_network.crypto).
EVENT_READER = "event-reader"
# An access request carries up to 500 decisions of ~300 bytes; beyond this an event is not ours to parse.
MAX_EVENT_BYTES = 1 << 20
_ACCESS_FIELDS = ("time", "requester", "requester_org", "purpose")


class _Malformed(Exception):
    pass


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise _Malformed
    return value


def _items(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise _Malformed
    return value


def _as_is(value: str) -> str:
    return value


@dataclass
class LiveLog:
    """One patient's view of the event stream; `skipped` counts events dropped as unknown or malformed.

    `name` and `org_name` say who and which organization in words, as the page's rows do (worked out by the
    page from what the patient may see, before the stream starts); the ids travel beside them for hovering."""

    patient_id: str
    skipped: int = 0
    name: Callable[[str], str] = _as_is
    org_name: Callable[[str], str] = _as_is

    def lines(self, name: Any, payload: Any) -> list[str]:
        """The SSE messages (`event: ...\\ndata: ...\\n\\n`) that one chaincode event yields for this patient."""
        try:
            return self._lines(name, payload)
        except (_Malformed, ValueError, TypeError, KeyError, AttributeError, RecursionError, OverflowError):
            self.skipped += 1
            return []

    def _lines(self, name: Any, payload: Any) -> list[str]:
        if name not in EVENT_NAMES:  # also any name that is not a string
            raise _Malformed
        if name not in (Event.ACCESS_REQUESTED, Event.INFERENCES_RECORDED):
            return []  # a healthcare event this page does not show: not parsed at all
        if not isinstance(payload, bytes | str) or len(payload) > MAX_EVENT_BYTES:
            raise _Malformed
        doc = json.loads(payload)
        if not isinstance(doc, dict):
            raise _Malformed
        rows = self._access(doc) if name == Event.ACCESS_REQUESTED else self._inferences(doc)
        return [f"event: {kind}\ndata: {json.dumps(row)}\n\n" for kind, row in rows]

    def _access(self, doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        summary: dict[str, Any] = {k: _text(doc.get(k)) for k in _ACCESS_FIELDS}
        if not isinstance(doc.get("emergency"), bool):
            raise _Malformed
        summary["emergency"] = doc["emergency"]
        rows = []
        for decision in _items(doc.get("decisions")):
            if decision.get("patient_id") == self.patient_id:
                _text(decision.get("record_id"))
                _text(decision.get("decision"))
                named = {
                    "requester_name": self.name(summary["requester"]),
                    "org_name": self.org_name(summary["requester_org"]),
                }
                rows.append(("access", {**summary, **decision, **named}))
        return rows

    def _inferences(self, doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        model = f"{_text(doc.get('model_id'))}@{_text(doc.get('version'))}"
        requester = _text(doc.get("requester"))
        named = self.name(requester)
        return [
            (
                "inference",
                {
                    "model": model,
                    "record_id": _text(r.get("record_id")),
                    "requester": requester,
                    "requester_name": named,
                },
            )
            for r in _items(doc.get("records"))
            if r.get("patient_id") == self.patient_id
        ]


@dataclass
class EventReaders:
    """One gateway per organization, connected as its event reader, shared by every open live log of that
    organization's patients (a gRPC channel carries many streams)."""

    label: str = EVENT_READER
    _gateways: dict[Path, Gateway] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def network(self, profile: Path, channel: str) -> Network:
        with self._lock:
            gateway = self._gateways.get(profile)
            if gateway is None:
                gateway = self._gateways[profile] = connect(profile, self.label)
        return gateway.network(channel)
