"""The upload outbox (services/_outbox.py) with a real Session on the in-memory ledger and a store that keeps the
real store's upload rule: the ciphertext is on disk (0600, ciphertext only) before the ledger call, a failed
upload keeps it there and says so by type, a flush uploads it, a refused ledger call leaves nothing, and an
entry the ledger does not name is dropped (once old enough, and only if the ledger agrees)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from careledger import crypto, fhir
from careledger._deployment import Deployment
from careledger.cli import _base, main
from careledger.errors import (
    REFUSALS,
    CareLedgerError,
    CommitError,
    CommitStatusError,
    Conflict,
    SubmitError,
    UploadPendingError,
)
from careledger.services import Session
from careledger.services import _records as records_module
from careledger.services._outbox import Outbox
from careledger.store import NotOnLedger, StoreError
from click.testing import CliRunner

from .chaincode_helpers import H1, Actor, World
from .test_oversight_client import LedgerContract

MARKER = "potassium-7f3a-outbox-marker"  # a value that must never reach the disk in clear
OBSERVATION: dict[str, Any] = {
    "resourceType": "Observation",
    "status": "final",
    "code": {"text": "Potassium"},
    "subject": {"reference": "Patient/h1-patient-1"},
    "effectiveDateTime": "2026-03-01T10:00:00Z",
    "valueQuantity": {"value": 4.123456, "unit": "mmol/L"},
    "note": [{"text": MARKER}],
}
OLD = time.time() - records_module.UNNAMED_GRACE_SECONDS - 60


class TypedContract(LedgerContract):
    """The in-memory ledger's refusals raised as the gateway raises them (careledger.errors types); `fail_next`
    makes the next submit fail with that error instead (before or after the ledger applied it, by `applied`)."""

    def __init__(self, actor: Actor) -> None:
        super().__init__(actor)
        self.fail_next: Exception | None = None
        self.applied = False

    def submit_transaction(self, function: str, *args: str, transient: dict[str, bytes] | None = None) -> bytes:
        failure, self.fail_next = self.fail_next, None
        if failure is not None and not self.applied:
            raise failure
        answer = self._call(function, args, transient or {})
        if failure is not None:
            raise failure
        return answer

    def _call(self, function: str, args: tuple[str, ...], transient: dict[str, bytes]) -> bytes:
        self.sent.append((function, args, transient))
        outcome = self.actor.ledger.invoke(self.actor.identity, function, *args, transient=transient)
        if outcome.status != 200:
            code, _, reason = outcome.message.partition(": ")
            raise REFUSALS[code](outcome.message, reason)
        return outcome.payload


class LedgerStore:
    """A custodian's record store with the real store's upload rule (careledger_store._server._put), asking the
    in-memory ledger as the store's admin: a ciphertext the ledger does not name is refused as NotOnLedger
    (what StoreClient raises for the store's NOT_ON_LEDGER). `down` makes every call fail as an unreachable
    store does; `lagging` refuses as a store whose peer has not seen the record yet."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.blobs: dict[str, bytes] = {}
        self.puts: list[str] = []
        self.down = self.lagging = False

    def put(self, blob: bytes | bytearray, record_id: str) -> str:
        self.puts.append(record_id)
        if self.down:
            raise StoreError(
                "cannot reach the record store at https://127.0.0.1:1: Connection refused", 0, "UNAVAILABLE"
            )
        address = hashlib.sha256(blob).hexdigest()
        outcome = self.world.h1_admin.call("GetRecord", record_id)
        if self.lagging or outcome.status != 200:
            raise NotOnLedger(f"record store refused: the ledger has no record {record_id}", 404, NotOnLedger.CODE)
        record = json.loads(outcome.payload)
        if record["status"] == "erased" or record["ciphertext_sha256"] != address:
            raise NotOnLedger("record store refused: not the record's current ciphertext", 403, NotOnLedger.CODE)
        self.blobs[address] = bytes(blob)
        return address

    def delete(self, address: str, record_id: str) -> bool:
        return self.blobs.pop(address, None) is not None

    def close(self) -> None:
        pass


def session(actor: Actor, store: LedgerStore, outbox: Path) -> Session:
    gateway = SimpleNamespace(identity=SimpleNamespace(msp_id=actor.msp_id))
    deployment = SimpleNamespace(outbox_dir=outbox)
    s = Session(Path("p.json"), actor.local_id, gateway, TypedContract(actor), deployment, wallet=None)  # type: ignore[arg-type]
    s._stores[H1] = store  # type: ignore[assignment]
    return s


@pytest.fixture
def w() -> World:
    return World()


@pytest.fixture
def store(w: World) -> LedgerStore:
    return LedgerStore(w)


@pytest.fixture
def outbox(tmp_path: Path) -> Path:
    return tmp_path / "state" / "outbox" / "hospital1"


def _files(outbox: Path) -> list[Path]:
    return sorted(p for p in outbox.rglob("*") if p.is_file())


def _pending_upload(s: Session, patient_id: str, store: LedgerStore) -> UploadPendingError:
    """A record created while its store is down: registered on the ledger, its ciphertext in the outbox."""
    store.down = True
    with pytest.raises(UploadPendingError) as pending:
        s.create_record(patient_id, OBSERVATION, "laboratory")
    return pending.value


def test_a_failed_upload_keeps_the_ciphertext_in_the_outbox_and_a_flush_uploads_it(
    w: World, store: LedgerStore, outbox: Path
) -> None:
    s = session(w.dr_h1, store, outbox)
    error = _pending_upload(s, w.alice.id, store)
    assert isinstance(error, CareLedgerError)
    assert isinstance(error.__cause__, StoreError)
    assert "is registered on the ledger" in str(error)
    assert "careledger record flush" in str(error)
    record = w.h1_admin.ok("GetRecord", error.record_id)  # registered
    assert error.record["ciphertext_sha256"] == record["ciphertext_sha256"]

    [kept] = _files(outbox)
    assert kept == error.outbox
    assert kept.relative_to(outbox) == Path(H1) / f"{record['id']}.v1.{record['ciphertext_sha256']}"
    blob = kept.read_bytes()
    assert hashlib.sha256(blob).hexdigest() == record["ciphertext_sha256"]  # the very ciphertext the ledger names
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert stat.S_IMODE(kept.parent.stat().st_mode) == 0o700
    plaintext = fhir.canonical_bytes(fhir.validate(OBSERVATION))
    assert plaintext not in blob
    for clear in (MARKER.encode(), b"4.123456", b"Potassium", b"mmol/L"):
        assert clear not in blob
    assert s.pending_uploads() == 1

    store.down = False
    assert s.flush_outbox() == 1
    assert store.blobs[record["ciphertext_sha256"]] == blob
    assert _files(outbox) == []
    assert s.pending_uploads() == 0
    assert s.flush_outbox() == 0


def test_the_next_record_created_uploads_what_an_earlier_one_left(w: World, store: LedgerStore, outbox: Path) -> None:
    s = session(w.dr_h1, store, outbox)
    first = _pending_upload(s, w.alice.id, store)
    store.down = False
    second = s.create_record(w.alice.id, OBSERVATION, "laboratory")
    assert set(store.blobs) == {first.record["ciphertext_sha256"], second["ciphertext_sha256"]}
    assert _files(outbox) == []


def test_an_upload_that_succeeds_leaves_nothing_behind(w: World, store: LedgerStore, outbox: Path) -> None:
    seen: list[list[Path]] = []
    real_put = store.put

    def put(blob: bytes | bytearray, record_id: str) -> str:
        seen.append(_files(outbox))  # the ciphertext was on disk before it was uploaded
        return real_put(blob, record_id)

    store.put = put  # type: ignore[method-assign]
    record = session(w.dr_h1, store, outbox).create_record(w.alice.id, OBSERVATION, "laboratory")
    assert [p.name for p in seen[0]] == [f"{record['id']}.v1.{record['ciphertext_sha256']}"]
    assert _files(outbox) == []


def test_a_refused_create_record_leaves_no_outbox_entry(w: World, store: LedgerStore, outbox: Path) -> None:
    s = session(w.dr_h1, store, outbox)
    s.create_record(w.alice.id, OBSERVATION, "laboratory", record_id="rec-twice")
    store.down = True  # were the entry kept, nothing would take it away
    with pytest.raises(Conflict):
        s.create_record(w.alice.id, OBSERVATION, "laboratory", record_id="rec-twice")
    assert _files(outbox) == []
    assert store.puts == ["rec-twice"]


@pytest.mark.parametrize(
    ("failure", "kept"),
    [
        (CommitError("committed invalid", "tx1", validation_code="ENDORSEMENT_POLICY_FAILURE", block_number=3), 0),
        (SubmitError("the orderer did not answer", "tx2"), 1),
        (CommitStatusError("no commit status", "tx3"), 1),
    ],
)
def test_a_ledger_call_that_may_have_registered_keeps_the_entry(
    w: World, store: LedgerStore, outbox: Path, failure: Exception, kept: int
) -> None:
    s = session(w.dr_h1, store, outbox)
    contract: TypedContract = s.contract  # type: ignore[assignment]
    contract.fail_next, contract.applied = failure, kept == 1  # a lost commit status: it committed after all
    with pytest.raises(type(failure)):
        s.create_record(w.alice.id, OBSERVATION, "laboratory")
    assert len(_files(outbox)) == kept
    if kept:  # registered after all: the next flush uploads it
        assert s.flush_outbox() == 1
        assert _files(outbox) == []


def test_an_entry_the_ledger_does_not_name_is_dropped_on_flush(
    w: World, store: LedgerStore, outbox: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """As a process killed between writing the entry and its CreateRecord leaves it: never registered."""
    s = session(w.dr_h1, store, outbox)
    blob = crypto.seal(
        b'{"resourceType": "Observation"}', crypto.new_record_key(), crypto.RecordRef("rec-x", w.alice.id, 1)
    )
    Outbox(outbox).keep(H1, "rec-never-registered", 1, blob).release()
    [entry] = _files(outbox)
    assert s.flush_outbox() == 0  # young: its CreateRecord may be committing late; kept and tried again
    assert _files(outbox) == [entry]
    os.utime(entry, (OLD, OLD))
    with caplog.at_level(logging.WARNING, logger=records_module.__name__):
        assert s.flush_outbox() == 0
    assert _files(outbox) == []
    assert store.blobs == {}
    assert "dropped 1 ciphertext(s) from the upload outbox" in caplog.text
    assert "rec-never-registered" not in caplog.text  # counts only


def test_an_old_entry_the_ledger_names_is_kept_when_a_lagging_store_refuses_it(
    w: World, store: LedgerStore, outbox: Path
) -> None:
    s = session(w.dr_h1, store, outbox)
    pending = _pending_upload(s, w.alice.id, store)
    os.utime(pending.outbox, (OLD, OLD))
    store.down, store.lagging = False, True  # the store's peer has not got the block: this session's has
    assert s.flush_outbox() == 0
    assert _files(outbox) == [pending.outbox]
    store.lagging = False
    assert s.flush_outbox() == 1


def test_an_entry_still_in_flight_is_left_to_its_writer(w: World, store: LedgerStore, outbox: Path) -> None:
    s = session(w.dr_h1, store, outbox)
    blob = crypto.seal(b"{}", crypto.new_record_key(), crypto.RecordRef("rec-in-flight", w.alice.id, 1))
    held = Outbox(outbox).keep(H1, "rec-in-flight", 1, blob)  # its CreateRecord not answered yet
    os.utime(held.entry.path, (OLD, OLD))
    assert s.flush_outbox() == 0
    assert store.puts == []  # not even tried
    held.release()
    assert s.flush_outbox() == 0  # now a leftover the ledger does not name: dropped
    assert _files(outbox) == []


def test_erasing_a_record_drops_its_waiting_ciphertext(w: World, store: LedgerStore, outbox: Path) -> None:
    pending = _pending_upload(session(w.dr_h1, store, outbox), w.alice.id, store)
    store.down = False
    session(w.alice, store, outbox).erase(pending.record_id)
    assert _files(outbox) == []


def test_an_id_outside_the_ledgers_syntax_writes_nothing(w: World, store: LedgerStore, outbox: Path) -> None:
    with pytest.raises(ValueError, match="record id"):
        session(w.dr_h1, store, outbox).create_record(w.alice.id, OBSERVATION, "laboratory", record_id="../escape")
    assert _files(outbox.parent) == []
    assert not any(f == "CreateRecord" for f, _, _ in session(w.dr_h1, store, outbox).contract.sent)  # type: ignore[attr-defined]


def test_the_outbox_lives_beside_the_organizations_wallets(tmp_path: Path) -> None:
    state = tmp_path / "state"
    profile = state / "profiles" / "hospital1.json"
    profile.parent.mkdir(parents=True)
    profile.write_text(json.dumps({"x-careledger": {"wallet": str(state / "wallets" / "hospital1")}}))
    assert Deployment.of(profile).outbox_dir == state / "outbox" / "hospital1"
    profile.write_text(json.dumps({"x-careledger": {"wallet": str(tmp_path / "w"), "outbox": str(tmp_path / "o")}}))
    assert Deployment.of(profile).outbox_dir == tmp_path / "o"
    profile.write_text("{}")  # the wallet is the profile's folder: the outbox is hidden inside it
    assert Deployment.of(profile).outbox_dir == state / "profiles" / ".outbox"


def test_careledger_record_flush_says_what_was_uploaded_and_what_remains(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, w: World, store: LedgerStore, outbox: Path
) -> None:
    s = session(w.dr_h1, store, outbox)
    store.down = True
    for _ in range(2):
        with pytest.raises(UploadPendingError):
            s.create_record(w.alice.id, OBSERVATION, "laboratory")

    @contextmanager
    def opened(self: _base.Context) -> Iterator[Session]:
        yield s

    monkeypatch.setattr(_base.Context, "session", opened)
    profile = tmp_path / "profile.json"
    profile.write_text("{}")
    run = CliRunner().invoke(main, ["--profile", str(profile), "--user", "h1-clinician-1", "record", "flush"])
    assert run.exit_code == 0, run.output
    assert run.output.strip() == f"uploaded 0; 2 remain in {outbox}"
    store.down = False
    run = CliRunner().invoke(main, ["--profile", str(profile), "--user", "u", "--json", "record", "flush"])
    assert json.loads(run.output) == {"uploaded": 2, "remaining": 0, "outbox": str(outbox)}


def test_an_upload_pending_create_exits_4_from_the_cli(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, w: World, store: LedgerStore, outbox: Path
) -> None:
    store.down = True

    @contextmanager
    def opened(self: _base.Context) -> Iterator[Session]:
        yield session(w.dr_h1, store, outbox)

    monkeypatch.setattr(_base.Context, "session", opened)
    resource = tmp_path / "observation.json"
    resource.write_text(json.dumps(OBSERVATION))
    profile = tmp_path / "profile.json"
    profile.write_text("{}")
    args = ["--profile", str(profile), "--user", "u", "record", "create", "--patient", w.alice.id]
    run = CliRunner().invoke(main, [*args, "--category", "laboratory", "--file", str(resource)])
    assert run.exit_code == _base.EXIT_UNAVAILABLE
    assert "is registered on the ledger" in run.output
    assert len(_files(outbox)) == 1
