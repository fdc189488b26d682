"""The portal's live log survives any chaincode event: hostile payloads are skipped and counted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from careledger_apps._live import MAX_EVENT_BYTES, LiveLog
from careledger_protocol import EVENT_NAMES, Event
from fabric_gateway import ChaincodeEvent

from tests.unit.test_apps_signin import PASSPHRASE, Accounts, FakeBrowser, FakeSession, portal

ME = "h1-patient-1"


class Stream(list[ChaincodeEvent]):
    """A finished event stream, closeable like fabric_gateway's."""

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def access(patient: str = ME, **changes: Any) -> bytes:
    doc: dict[str, Any] = {
        "tx_id": "tx1",
        "time": "2026-01-01T00:00:00Z",
        "requester": "h2-clinician-1",
        "requester_org": "Hospital2MSP",
        "purpose": "treatment",
        "emergency": False,
        "decisions": [
            {
                "record_id": "r1",
                "patient_id": patient,
                "custodian": "Hospital1MSP",
                "decision": "allowed",
                "reason": "",
            },
            {"record_id": "r2", "patient_id": "someone-else", "custodian": "x", "decision": "denied", "reason": "no"},
        ],
    }
    doc.update(changes)
    return json.dumps(doc).encode()


def inference(**changes: Any) -> bytes:
    doc: dict[str, Any] = {
        "tx_id": "tx2",
        "model_id": "risk",
        "version": "1.0.0",
        "requester": "h1-researcher-1",
        "records": [{"record_id": "r1", "patient_id": ME}, {"record_id": "r9", "patient_id": "other"}],
    }
    doc.update(changes)
    return json.dumps(doc).encode()


HOSTILE: list[tuple[Any, Any]] = [
    ("diag.Put", b"some-key"),  # the diagnostics contract: a raw key, not JSON
    ("diag:Put", b"\x00\xff"),
    ("AccessRequested", b"\xff\xfe\x00not utf-8"),
    ("AccessRequested", b"not json at all"),
    ("AccessRequested", b"[1, 2, 3]"),
    ("AccessRequested", b'"a string"'),
    ("AccessRequested", b"null"),
    ("AccessRequested", b"{}"),
    ("AccessRequested", b""),
    ("AccessRequested", None),
    ("AccessRequested", 42),
    ("AccessRequested", access(decisions="not a list")),
    ("AccessRequested", access(decisions=[1, 2])),
    ("AccessRequested", access(decisions=[{"patient_id": ME}])),  # a decision without record or outcome
    ("AccessRequested", access(time=None)),
    ("AccessRequested", access(emergency="yes")),
    ("AccessRequested", b"[" * 100_000 + b"]" * 100_000),  # nesting deep enough to exhaust the recursion limit
    ("AccessRequested", b'{"a": "' + b"x" * MAX_EVENT_BYTES + b'"}'),  # too large to parse
    ("AccessRequested", b'{"emergency": 1e999999}'),
    ("InferencesRecorded", inference(records={"record_id": "r1"})),
    ("InferencesRecorded", inference(model_id=["x"])),
    ("InferencesRecorded", inference(records=[{"patient_id": ME, "record_id": None}])),
    ("NoSuchEvent", access()),
    (None, access()),
    (b"AccessRequested", access()),
    (["AccessRequested"], access()),
]


@pytest.mark.parametrize(("name", "payload"), HOSTILE)
def test_hostile_events_are_skipped_and_counted(name: Any, payload: Any) -> None:
    live = LiveLog(ME)
    assert live.lines(name, payload) == []
    assert live.skipped == 1


def test_access_and_inference_events_for_this_patient_only() -> None:
    live = LiveLog(ME)
    (line,) = live.lines("AccessRequested", access())
    kind, data = line.removesuffix("\n\n").split("\n")
    assert kind == "event: access"
    row = json.loads(data.removeprefix("data: "))
    assert row["record_id"] == "r1"
    assert row["requester"] == "h2-clinician-1"
    assert row["emergency"] is False
    assert row["decision"] == "allowed"
    (line,) = live.lines("InferencesRecorded", inference())
    assert line.startswith("event: inference\ndata: ")
    assert json.loads(line.split("data: ")[1]) == {
        "model": "risk@1.0.0",
        "record_id": "r1",
        "requester": "h1-researcher-1",
        "requester_name": "h1-researcher-1",  # no name known: the id
    }
    assert live.lines("AccessRequested", access(patient="someone-else")) == []
    assert live.lines("ConsentGranted", b"not even parsed") == []  # known but not shown: not counted as bad
    assert live.skipped == 0


def test_rows_name_people_and_organizations_as_the_page_does() -> None:
    names = {"h2-clinician-1": "Dr Ana Silva"}
    live = LiveLog(ME, name=lambda m: names.get(m, m), org_name=lambda msp: {"Hospital2MSP": "Riverside"}.get(msp, msp))
    (line,) = live.lines("AccessRequested", access())
    row = json.loads(line.split("data: ")[1])
    assert (row["requester_name"], row["requester"]) == ("Dr Ana Silva", "h2-clinician-1")  # the id stays, for hover
    assert row["org_name"] == "Riverside"


def test_the_stream_goes_on_after_bad_events(tmp_path: Path) -> None:
    """Through the portal's real /log/stream view: bad events in between, every good one still arrives."""
    events = [ChaincodeEvent(n, f"tx{n}", "careledger", name, payload) for n, (name, payload) in enumerate(HOSTILE)]
    events.insert(3, ChaincodeEvent(100, "txa", "careledger", "AccessRequested", access()))
    events.append(ChaincodeEvent(200, "txb", "careledger", "InferencesRecorded", inference()))

    class Network:
        name = "careledger"

        def chaincode_events(self, chaincode: str, timeout: float) -> Stream:
            return Stream(events)

    class StreamingSession(FakeSession):
        profile_path = tmp_path / "hospital1.json"
        contract = type("C", (), {"network": Network(), "chaincode": "careledger"})()

    class Readers:  # the org's event reader, not the patient, reads the events
        def network(self, profile: Path, channel: str) -> Network:
            assert profile == tmp_path / "hospital1.json"
            assert channel == "careledger"
            return Network()

    accounts = Accounts()

    def open_streaming(org: str, user: str, passphrase: bytes) -> Any:
        assert passphrase == PASSPHRASE.encode()
        return StreamingSession(user, "patient")

    accounts.open = open_streaming  # type: ignore[method-assign]
    app, _ = portal(tmp_path, accounts=accounts)
    app.extensions["careledger.event_readers"] = Readers()
    browser = FakeBrowser(app)
    assert browser.login(ME, PASSPHRASE).status_code == 302
    body = browser.get("/log/stream").get_data(as_text=True)
    assert body.startswith(": connected\n\n")
    assert body.count("event: access\n") == 1
    assert body.count("event: inference\n") == 1
    assert "event: error" not in body


@pytest.mark.parametrize("name", sorted(set(EVENT_NAMES) - {Event.ACCESS_REQUESTED, Event.INFERENCES_RECORDED}))
def test_other_healthcare_events_are_not_shown_and_not_counted_as_bad(name: str) -> None:
    live = LiveLog(ME)
    assert live.lines(name, b"not even json") == []
    assert live.skipped == 0


def test_without_an_event_reader_the_stream_says_error(tmp_path: Path) -> None:
    class NoReader(FakeSession):
        profile_path = tmp_path / "hospital1.json"
        contract = type("C", (), {"network": type("N", (), {"name": "careledger"})(), "chaincode": "careledger"})()

    accounts = Accounts()
    accounts.open = lambda org, user, passphrase: NoReader(user, "patient")  # type: ignore[method-assign]
    app, _ = portal(tmp_path, accounts=accounts)  # the real EventReaders: no profile, no wallet there
    browser = FakeBrowser(app)
    assert browser.login(ME, PASSPHRASE).status_code == 302
    assert browser.get("/log/stream").get_data(as_text=True) == ": connected\n\nevent: error\ndata: {}\n\n"
