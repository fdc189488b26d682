"""The client side of consent requests and emergencies, against the in-memory ledger: free text goes as transient
data only; a cross-hospital emergency really decrypts once the custodian's system re-wraps the key with the
organization key; the CLI commands."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from careledger import crypto
from careledger.cli import _base, main
from careledger.errors import CareLedgerError, IdentityError
from careledger.services import OpenedRecord, Refused, Session
from careledger.store import StoreError
from click.testing import CliRunner

from .chaincode_helpers import H1, Actor, World
from .test_oversight_client import LedgerContract

MESSAGE = "Your cardiologist needs last month's potassium results"
JUSTIFICATION = "Unconscious patient in the emergency department: allergy history needed"
NOTE = "Documented cardiac arrest on arrival; access was proportionate and brief"


class OneBlobStore:
    """A custodian's store holding one ciphertext, releasing it to any access (the ledger is what is tested)."""

    def __init__(self, record_id: str, blob: bytes) -> None:
        self.record_id, self.blob = record_id, blob
        self.asked: list[str] = []

    def get_many(self, records: dict[str, str | None], access_tx: str) -> dict[str, bytes | StoreError]:
        self.asked.append(access_tx)
        return {r: self.blob for r in records if r == self.record_id}

    def close(self) -> None:
        pass


def session(actor: Actor, key: Any = None, org_key: Any = None) -> Session:
    gateway = SimpleNamespace(identity=SimpleNamespace(msp_id=actor.msp_id))
    contract = LedgerContract(actor)
    s = Session(Path("p.json"), actor.local_id, gateway, contract, deployment=None, wallet=None)  # type: ignore[arg-type]
    s._encryption_key, s.org_key = key, org_key
    return s


def _cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, actor: Actor | None, *args: str) -> Any:
    """Run `careledger ...` as the actor (None: connecting fails the test)."""

    @contextmanager
    def opened(self: _base.Context) -> Iterator[Session]:
        assert actor is not None, "the command connected before checking its arguments"
        yield session(actor)

    monkeypatch.setattr(_base.Context, "session", opened)
    profile = tmp_path / "profile.json"
    profile.write_text("{}")
    return CliRunner().invoke(main, ["--profile", str(profile), "--user", "u", *args])


@pytest.fixture
def w() -> World:
    world = World()
    world.create("rec-1")
    return world


def test_the_message_and_reason_travel_as_transient_data_only(w: World) -> None:
    clinician, patient = session(w.dr_h2), session(w.alice)
    made = clinician.request_consent(
        w.alice.id, ["treatment"], "2027-01-01T00:00:00Z", categories=["laboratory"], message=MESSAGE
    )
    function, args, transient = clinician.contract.sent[-1]  # type: ignore[attr-defined]
    assert function == "RequestConsent"
    assert MESSAGE not in "".join(args)
    assert transient["message"] == MESSAGE.encode()
    assert len(transient["salt"]) == 32
    assert patient.consent_request(made["id"])["message"] == MESSAGE
    assert [r["status"] for r in patient.consent_requests_to()] == ["pending"]
    declined = patient.decline_consent_request(made["id"], "Not before I talk to my own doctor")
    assert declined["status"] == "declined"
    assert clinician.consent_request(made["id"])["reason"] == "Not before I talk to my own doctor"
    assert [r["status"] for r in clinician.my_consent_requests()] == ["declined"]
    with pytest.raises(CareLedgerError, match="is declined"):  # refused before any grant is made
        patient.grant_requested(made["id"])
    assert not any(f == "GrantConsent" for f, _, _ in patient.contract.sent)  # type: ignore[attr-defined]


def test_approving_grants_what_was_asked_and_answers_with_that_grant(w: World) -> None:
    clinician = session(w.dr_h2)
    made = clinician.request_consent("h1-patient-1@Hospital1MSP", ["treatment"], "2027-01-01T00:00:00Z", ["rec-1"])
    patient = session(w.alice)
    grants: list[tuple[Any, ...]] = []

    def grant(*args: Any) -> dict[str, Any]:  # the real grant re-wraps keys: the ledger is what is tested here
        grants.append(args)
        return dict(w.give(args[0], list(args[3] or [])))

    patient.grant = grant  # type: ignore[method-assign]
    given, answered = patient.grant_requested(made["id"])
    assert grants == [(w.dr_h2.id, ["treatment"], "2027-01-01T00:00:00.000000Z", ["rec-1"], None)]
    assert answered["status"] == "approved"
    assert answered["grant_id"] == given["id"]


def test_a_cross_hospital_emergency_decrypts_once_the_custodian_releases_the_key() -> None:
    w = World()
    w.ledger.clock = datetime.datetime.now(
        datetime.UTC
    )  # the releaser skips emergencies past their window by its clock
    org_key, h2_key, patient_key = crypto.new_encryption_key(), crypto.new_encryption_key(), crypto.new_encryption_key()
    w.h1_admin.ok("RegisterOrganizationKey", json.dumps(crypto.public_jwk(org_key)))
    w.dr_h2.ok("UpdateMemberKey", json.dumps(crypto.public_jwk(h2_key)))
    resource = {"resourceType": "Observation", "status": "final", "code": {"text": "Potassium"}}
    ref = crypto.RecordRef("rec-x", w.alice.id, 1)
    record_key = crypto.new_record_key()
    blob = bytes(crypto.seal(json.dumps(resource).encode(), record_key, ref))
    doc = {**w.record("rec-x"), "ciphertext_sha256": crypto.content_address(blob), "size": len(blob)}
    wrapped = {w.alice.id: crypto.wrap_key(record_key, ref, crypto.public_jwk(patient_key))}
    wrapped[f"org:{H1}"] = crypto.wrap_key(record_key, ref, crypto.public_jwk(org_key))
    w.dr_h1.ok("CreateRecord", doc, transient={"wrapped_keys": wrapped})

    requester = session(w.dr_h2, key=h2_key)
    store = OneBlobStore("rec-x", blob)
    requester._stores[H1] = store  # type: ignore[assignment]
    opening = requester.break_glass(["rec-x"], JUSTIFICATION)
    assert opening.waiting == ["rec-x"]
    assert isinstance(opening.items[0], Refused)
    assert store.asked == []  # no key yet: the ciphertext is not even asked for

    custodian = session(w.h1_admin, org_key=org_key)
    released = custodian.release_pending_emergency_keys()
    assert [r["released"] for r in released] == [["rec-x"]]
    assert custodian.release_pending_emergency_keys() == []  # nothing awaited any more
    opened = requester.open_released(opening.access_tx_id)
    assert isinstance(opened[0], OpenedRecord)
    assert opened[0].resource["code"]["text"] == "Potassium"
    assert store.asked == [opening.access_tx_id]
    sent = custodian.contract.sent  # type: ignore[attr-defined]
    assert not any(record_key.hex() in "".join(args) for _, args, _ in sent)
    w.ledger.clock -= datetime.timedelta(minutes=30)  # an emergency whose window ended before the releaser's round
    requester.break_glass(["rec-x"], JUSTIFICATION)
    asked = len(sent)
    assert custodian.release_pending_emergency_keys() == []
    assert [f for f, _, _ in sent[asked:]] == ["ListEmergencies"]  # listed, and skipped without asking for keys
    with pytest.raises(IdentityError, match="organization key"):
        session(w.h1_admin).release_emergency_keys(opening.access_tx_id)


def test_the_review_commands(w: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    transient = {"justification": JUSTIFICATION, "salt": "5a1t" * 8}
    txid = w.dr_h2.ok("EmergencyAccess", {"record_ids": ["rec-1"]}, transient=transient)["tx_id"]
    listed = _cli(monkeypatch, tmp_path, w.auditor, "emergency", "list")
    assert listed.exit_code == 0, listed.output
    assert f"{txid}  {w.dr_h2.id} on rec-1  awaiting review" in listed.output
    done = _cli(monkeypatch, tmp_path, w.auditor, "emergency", "review", txid, "--verdict", "justified", "--note", NOTE)
    assert done.exit_code == 0, done.output
    assert f"marked justified by {w.auditor.id}" in done.output
    shown = _cli(monkeypatch, tmp_path, w.alice, "emergency", "show", txid)
    assert NOTE in shown.output
    refused = _cli(monkeypatch, tmp_path, w.dr_h1, "emergency", "list")
    assert refused.exit_code == 1


def test_the_consent_request_commands(w: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    asked = _cli(
        monkeypatch, tmp_path, w.dr_h2, "consent", "request", "--patient", w.alice.id, "--category", "laboratory",
        "--purpose", "treatment", "--until", "2027-01-01T00:00:00Z", "--message", MESSAGE,
    )  # fmt: skip
    assert asked.exit_code == 0, asked.output
    request_id = asked.output.split("request ")[1].split(",")[0]
    listed = _cli(monkeypatch, tmp_path, w.alice, "consent", "requests")
    assert f"{request_id}  {w.dr_h2.id} -> {w.alice.id}" in listed.output
    assert "PENDING" in listed.output
    shown = _cli(monkeypatch, tmp_path, w.alice, "consent", "show-request", request_id)
    assert MESSAGE in shown.output
    declined = _cli(monkeypatch, tmp_path, w.alice, "consent", "decline", request_id, "--reason", "Not now, thank you")
    assert declined.exit_code == 0, declined.output
    sent = _cli(monkeypatch, tmp_path, w.dr_h2, "consent", "requests", "--sent")
    assert "DECLINED" in sent.output
    missing = _cli(
        monkeypatch, tmp_path, None, "consent", "request", "--patient", "p", "--purpose", "treatment", "--until", "x"
    )
    assert missing.exit_code == 2
