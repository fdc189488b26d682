"""No patient data outside the encrypted store: after records carrying unique canary values (a name, a
clinical note, a measurement) go through every flow, no log, block file or other file of the network's
state contains them — the record stores included, since they hold only ciphertext."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from careledger.services import OpenedRecord, Session
from careledger_network.network import Network

pytestmark = pytest.mark.network


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and not p.is_symlink()]


def test_canaries_appear_nowhere_outside_the_ciphertexts(network: Network) -> None:
    canary = uuid.uuid4().hex
    name, note, value = f"Canary Patient {canary[:10]}", f"note-{canary}", f"{int(canary[:6], 16) / 977:.6f}"
    resource = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "Hemoglobin"},
        "subject": {"display": name},
        "note": [{"text": note}],
        "valueQuantity": {"value": float(value), "unit": "g/dL"},
    }
    profiles = network.state / "profiles"
    with (
        Session.open(profiles / "hospital1.json", "h1-clinician-1") as clinician,
        Session.open(profiles / "hospital1.json", "h1-patient-1") as patient,
        Session.open(profiles / "hospital2.json", "h2-clinician-1") as other,
    ):
        for s in (clinician, patient, other):
            s.register()
        record = clinician.create_record("h1-patient-1", resource, category="laboratory")
        patient.grant(other.member_id(), ["treatment"], "2099-01-01T00:00:00Z", record_ids=[record["id"]])
        opened = other.open_records([record["id"]])
        assert isinstance(opened[0], OpenedRecord)
        assert opened[0].resource["note"][0]["text"] == note  # the canary really went through the flows
        patient.rotate_record(record["id"])
        patient.open_records([record["id"]])

    needles = [n.encode() for n in (name, note, value)]
    hits, control = [], []
    for path in _files(network.state):
        data = path.read_bytes()
        hits.extend(f"{path.relative_to(network.state)}: {n.decode()}" for n in needles if n in data)
        if record["id"].encode() in data and "blockfile" in path.name:
            control.append(path)
    assert control, "the search did not see the ledger's blocks (the record id is on the ledger by design)"
    assert hits == [], "patient data found in clear:\n" + "\n".join(hits[:20])
