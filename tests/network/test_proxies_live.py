"""Proxy access on the live network: a parent (a person enrolled at Hospital2 with role patient) named by a
Hospital1 patient grants a Hospital2 clinician access for the patient; the clinician opens the record; the
parent opens it too; the patient's log says "by <parent> for <patient>", and so do the FHIR exports."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterator

import pytest
from careledger import fhir
from careledger.cli._base import _event_row, _grant_row
from careledger.errors import NotAuthorized
from careledger.services import OpenedRecord, Session
from careledger_network import crypto as netcrypto
from careledger_network.network import Network

from .conftest import eventually, record_seen

pytestmark = pytest.mark.network

# A patient enrolled for this run: naming a proxy re-wraps every active record of the patient, and the
# shared demo patients hold records of other tests whose wrapped keys are deliberately not real JWEs.
PATIENT_USER = f"h1-proxied-{uuid.uuid4().hex[:6]}"
PATIENT, PARENT = f"{PATIENT_USER}@Hospital1MSP", "h2-patient-1@Hospital2MSP"
OBSERVATION = {
    "resourceType": "Observation",
    "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "718-7", "display": "Hemoglobin"}]},
    "valueQuantity": {"value": 12.9, "unit": "g/dL", "system": "http://unitsofmeasure.org", "code": "g/dL"},
}


def _until(days: int) -> str:
    return (datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def people(network: Network) -> Iterator[dict[str, Session]]:
    def open_(org: str, user: str) -> Session:
        return Session.open(network.state / "profiles" / f"{org}.json", user)

    netcrypto.enroll_user(network.state, network.c.org("hospital1"), PATIENT_USER, "patient")

    sessions = {
        "patient": open_("hospital1", PATIENT_USER),
        "parent": open_("hospital2", "h2-patient-1"),
        "dr-h1": open_("hospital1", "h1-clinician-1"),
        "dr-h2": open_("hospital2", "h2-clinician-1"),
    }
    for s in sessions.values():
        s.register()
    patient = sessions["patient"]
    for relation in patient.proxies_of():  # a rerun: start from no proxy
        if relation["proxy_id"] == PARENT and relation["status"] == "active":
            patient.revoke_proxy(PARENT)
    yield sessions
    for s in sessions.values():
        s.close()


def _acts_for(parent: Session) -> bool:
    return PATIENT in {r["patient_id"] for r in parent.patients_i_act_for(active_only=True)}


def test_a_parent_grants_for_the_patient_and_the_log_says_by_whom(people: dict[str, Session]) -> None:
    patient, parent, dr_h1, dr_h2 = people["patient"], people["parent"], people["dr-h1"], people["dr-h2"]
    record = dr_h1.create_record(PATIENT, OBSERVATION, category="laboratory")

    named = patient.name_proxy(PARENT, ["view", "grant", "revoke"], _until(30))
    assert record["id"] in named["keyed_records"]  # the patient's key, re-wrapped for the parent
    eventually(lambda: _acts_for(parent), "the relation reaches Hospital2's peer")  # written through Hospital1's

    grant = parent.grant(dr_h2.member_id(), ["treatment"], _until(7), [record["id"]], on_behalf_of=PATIENT)
    assert (grant["patient_id"], grant.get("granted_by")) == (PATIENT, PARENT)

    [opened] = dr_h2.open_records([record["id"]], "treatment")
    assert isinstance(opened, OpenedRecord), opened
    assert opened.resource["valueQuantity"]["value"] == 12.9

    [by_parent] = parent.open_records_for(PATIENT, [record["id"]])  # the parent reads it, with their own key
    assert isinstance(by_parent, OpenedRecord), by_parent

    eventually(  # the accesses went through Hospital2's peer; the patient reads through Hospital1's
        lambda: sum(e["record_id"] == record["id"] for e in patient.access_log()) >= 2, "the accesses reach Hospital1"
    )
    log = patient.access_log()
    proxy_events = [e for e in log if e.get("on_behalf_of") == PATIENT and e["record_id"] == record["id"]]
    assert proxy_events, "the parent's access is in the patient's log"
    assert all(e["requester"] == PARENT for e in proxy_events)
    assert f"by {PARENT} for {PATIENT}" in _event_row(proxy_events[-1])
    clinician = [e for e in log if e["requester"] == dr_h2.member_id() and e["record_id"] == record["id"]]
    assert clinician[-1]["decision"] == "allowed"
    assert clinician[-1].get("consent_id") == grant["id"]
    [listed] = [g for g in patient.grants_of() if g["id"] == grant["id"]]
    assert f"granted by {PARENT} for {PATIENT}" in _grant_row(listed)

    consent = fhir.consent(listed)  # IHE PCF's delegate case: the parent is the performer
    assert consent["performer"][0]["type"] == "RelatedPerson"
    assert consent["performer"][0]["identifier"]["value"] == PARENT
    audit = fhir.audit_event(proxy_events[-1])
    requestor = next(a for a in audit["agent"] if a["requestor"])
    assert requestor["who"]["identifier"]["value"] == PARENT
    assert PATIENT in {a["who"].get("identifier", {}).get("value") for a in audit["agent"]}

    later = dr_h1.create_record(PATIENT, OBSERVATION, category="laboratory")  # keyed for the parent too
    record_seen(parent, later["id"])  # the new record reaches Hospital2's peer
    [opened_later] = parent.open_records_for(PATIENT, [later["id"]])
    assert isinstance(opened_later, OpenedRecord), opened_later

    patient.revoke_proxy(PARENT)
    eventually(lambda: not _acts_for(parent), "the revocation reaches Hospital2's peer")
    with pytest.raises(NotAuthorized, match="revoked"):
        parent.open_records_for(PATIENT, [record["id"]])
    with pytest.raises(NotAuthorized):
        parent.grant(dr_h1.member_id(), ["treatment"], _until(7), [record["id"]], on_behalf_of=PATIENT)
    patient.revoke(grant["id"])
