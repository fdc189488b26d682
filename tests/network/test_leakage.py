"""No patient data outside the encrypted store: after records carrying unique canary values (a name, a
clinical note, a measurement) go through every flow, no log, block file or other file of the network's
state contains them — the record stores included, since they hold only ciphertext."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from careledger.services import OpenedRecord, Session
from careledger_network import crypto as netcrypto
from careledger_network.network import Network

from .conftest import grant_seen

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
        grant = patient.grant(other.member_id(), ["treatment"], "2099-01-01T00:00:00Z", record_ids=[record["id"]])
        grant_seen(other, grant["id"])  # granted through Hospital1's peer; opened through Hospital2's
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


# Where a private value may lie on a peer's disk: the state, private-data and transient stores (LevelDB), and
# after a purge only until LevelDB compacts them (docs/security.md, 'Erasure'). Nowhere else.
PEER_PRIVATE_STORES = ("ledgersData/stateLeveldb", "ledgersData/pvtdataStore", "transientstore")


def _kind(path: Path) -> str:
    text = str(path)
    if "/chains/chains/" in text:
        return "block"
    if any(store in text for store in PEER_PRIVATE_STORES):
        return "peer private store"
    return "other"


def test_private_values_never_reach_blocks_or_logs(network: Network) -> None:
    """A break-glass justification and the wrapped key of an erased record: only hashes in the blocks, and
    neither in any log, history database, record store, wallet or configuration."""
    run = uuid.uuid4().hex[:8]
    justification = f"Canary justification {run}: unconscious after a fall, allergies unknown"
    org = network.c.org("hospital1")
    netcrypto.enroll_user(network.state, org, f"h1-canary-{run}", "patient")
    profiles = network.state / "profiles"
    with (
        Session.open(profiles / "hospital1.json", f"h1-canary-{run}") as patient,
        Session.open(profiles / "hospital1.json", "h1-clinician-1", org_key_from="h1-admin") as clinician,
        Session.open(profiles / "hospital2.json", "h2-clinician-1") as other,
    ):
        for s in (patient, clinician, other):
            s.register()
        observation = {"resourceType": "Observation", "status": "final", "code": {"text": "Potassium"}}
        record = clinician.create_record(patient.member_id(), observation, "laboratory")
        patient.grant(other.member_id(), ["treatment"], "2099-01-01T00:00:00Z", record_ids=[record["id"]])
        access = patient.request_access([record["id"]], "treatment")
        jwe = patient.evaluate("GetAccessKeys", access["tx_id"])["keys"][record["id"]]["wrapped_key"]
        wrapped = (jwe.get("recipients") or [jwe])[0]["encrypted_key"]
        opened = clinician.open_records([record["id"]], emergency_justification=justification)
        assert isinstance(opened[0], OpenedRecord)
        assert patient.evaluate("GetJustification", opened[0].access_tx_id)["justification"] == justification
        patient.erase(record["id"])
        assert patient.evaluate("GetRecord", record["id"])["status"] == "erased"

    needles = {"justification": justification.encode(), "wrapped key": wrapped.encode()}
    found: dict[str, set[str]] = {name: set() for name in needles}
    blocks_seen = False
    for path in _files(network.state):
        data = path.read_bytes()
        blocks_seen = blocks_seen or (_kind(path) == "block" and record["id"].encode() in data)
        for name, needle in needles.items():
            if needle in data:
                found[name].add(_kind(path))
    assert blocks_seen, "the search did not see the blocks (the record id is on the ledger by design)"
    for name, kinds in found.items():
        assert kinds <= {"peer private store"}, f"the {name} was found in: {sorted(kinds)}"
