"""The privacy findings of the adversarial review (issue 14), each reproduced against the live network and
refused: every test here fails on the chaincode and channel configuration that preceded the fixes."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from careledger import crypto as ccrypto
from careledger.errors import ChaincodeRefusal, EndorseError, GatewayError
from careledger.ledger import BlockReader
from careledger.services import OpenedRecord, Refused, Session
from careledger.store import StoreError
from careledger_network import crypto
from careledger_network.network import Network
from fabric_gateway import _proposal_builder as proposal_module
from fabric_protos.common import common_pb2
from fabric_protos.orderer import ab_pb2_grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import grant_seen
from .resources import observation

pytestmark = pytest.mark.network

RUN = uuid.uuid4().hex[:6]
OBSERVATION = observation("Hemoglobin", 12.9, "g/dL")


@dataclass
class People:
    alice: Session  # a patient of Hospital1
    bob: Session  # another patient of Hospital1
    dr_h1: Session  # Hospital1's clinician (creates records), holding the organization key
    dr_h2: Session  # Hospital2's clinician (the grantee)
    auditor: Session


def _person(network: Network, org_key: str, user: str, role: str | None, **kw: Any) -> Session:
    if role:
        crypto.enroll_user(network.state, network.c.org(org_key), user, role)
    session = Session.open(network.state / "profiles" / f"{org_key}.json", user, **kw)
    session.register()
    return session


@pytest.fixture(scope="module")
def people(network: Network) -> Iterator[People]:
    with Session.open(network.state / "profiles" / "hospital1.json", "h1-admin") as admin:
        admin.register()
    crowd = People(
        alice=_person(network, "hospital1", f"h1-pa-{RUN}", "patient"),
        bob=_person(network, "hospital1", f"h1-pb-{RUN}", "patient"),
        dr_h1=_person(network, "hospital1", f"h1-dr-{RUN}", "clinician", org_key_from="h1-admin"),
        dr_h2=_person(network, "hospital2", f"h2-dr-{RUN}", "clinician"),
        auditor=_person(network, "healthauthority", "ha-auditor-1", None),
    )
    yield crowd
    for s in (crowd.alice, crowd.bob, crowd.dr_h1, crowd.dr_h2, crowd.auditor):
        s.close()


def _refusal(exc: EndorseError) -> str:
    return exc.code if isinstance(exc, ChaincodeRefusal) else ""


# -- 1. bookmark injection -------------------------------------------------------------------------------------
def test_1_a_crafted_bookmark_reads_nobody_elses_events(people: People) -> None:
    record = people.dr_h1.create_record(people.bob.member_id(), OBSERVATION, "laboratory")
    people.bob.open_records([record["id"]])  # an access event of Bob's
    for function in ("ListAccessByPatient", "ListGrantsByPatient", "ListInferencesByPatient"):
        with pytest.raises(EndorseError) as refused:
            people.alice.evaluate(function, people.alice.member_id(), "100", "\x00audit-patient\x00")
        assert _refusal(refused.value) == "INVALID_ARGUMENT"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    bookmark=st.one_of(
        st.sampled_from(["\x00", "\x01", "\x00audit-patient\x00", "\x00grant-p\x00", "\x00inference\x00"]),
        st.text(max_size=40),
    )
)
def test_1_no_bookmark_leaves_the_callers_range(people: People, bookmark: str) -> None:
    bob = people.bob.member_id()
    for function in ("ListAccessByPatient", "ListGrantsByPatient", "ListInferencesByPatient", "ListPatientRecords"):
        try:
            page = people.alice.evaluate(function, people.alice.member_id(), "100", bookmark)
        except EndorseError as exc:
            page = {"refused": _refusal(exc)}  # a refusal is fine; only INVALID_ARGUMENT is expected
            assert page == {"refused": "INVALID_ARGUMENT"}, page
        assert bob not in json.dumps(page)


# -- 2. an expired grantee and new versions ------------------------------------------------------------------------
@pytest.mark.slow
def test_2_an_expired_grantee_gets_no_key_and_no_ciphertext_of_a_new_version(people: People) -> None:
    record = people.dr_h1.create_record(people.alice.member_id(), OBSERVATION, "laboratory")
    until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 12))
    grant = people.alice.grant(people.dr_h2.member_id(), ["treatment"], until, record_ids=[record["id"]])
    grant_seen(people.dr_h2, grant["id"])  # granted through Hospital1's peer; asked for through Hospital2's
    old_access = people.dr_h2.request_access([record["id"]], "treatment")
    assert old_access["decisions"][0]["decision"] == "allowed"
    time.sleep(14)
    recipients = {r["id"] for r in people.alice.evaluate("GetRecipients", record["id"])}
    assert people.dr_h2.member_id() not in recipients
    rotated = people.alice.rotate_record(record["id"])
    with pytest.raises(StoreError) as store:
        people.dr_h2.store("Hospital1MSP").get(rotated["ciphertext_sha256"], record["id"], old_access["tx_id"])
    assert store.value.status == 403
    again = people.dr_h2.open_records([record["id"]])
    assert isinstance(again[0], Refused)
    assert "consent" in again[0].reason  # its entry was purged when the version was keyed without it


# -- 3. member-id squatting -----------------------------------------------------------------------------------------
def test_3_another_organization_cannot_take_a_patients_id(network: Network, people: People) -> None:
    victim = f"h1-victim-{RUN}"
    squatter = _person(network, "hospital2", victim, "patient")  # Hospital2's CA issues Hospital1's patient id
    try:
        assert squatter.member_id() == f"{victim}@Hospital2MSP"
        real = _person(network, "hospital1", victim, "patient")
        assert real.member_id() == f"{victim}@Hospital1MSP"
        record = people.dr_h1.create_record(victim, OBSERVATION, "laboratory")  # a bare id: this hospital's patient
        assert record["patient_id"] == real.member_id()
        opened = real.open_records([record["id"]])
        assert isinstance(opened[0], OpenedRecord)
        assert isinstance(squatter.open_records([record["id"]])[0], Refused)
        real.close()
    finally:
        squatter.close()


# -- 4. raw blocks ----------------------------------------------------------------------------------------------
def test_4_a_patient_cannot_read_blocks_or_replay_events(network: Network, people: People) -> None:
    with pytest.raises(EndorseError):
        people.alice.gateway.network(network.c.channel).contract("qscc").evaluate_transaction(
            "GetBlockByNumber", network.c.channel, "1"
        )
    with pytest.raises(GatewayError, match="FORBIDDEN"):
        list(BlockReader(people.alice.gateway, network.c.channel).blocks(0, 1))
    with pytest.raises(GatewayError, match="PERMISSION_DENIED"):
        list(people.alice.gateway.network(network.c.channel).chaincode_events(network.c.chaincode_name, start_block=0))
    # ... nor straight from an orderer.
    orderer = network.c.orderers[0]
    tls = grpc.ssl_channel_credentials(crypto.org_paths(network.state, network.c.orderer_org).ca_cert.read_bytes())
    with grpc.secure_channel(f"{orderer.host}:{orderer.port}", tls) as channel:
        gateway = people.alice.gateway
        request = gateway.network(network.c.channel).new_block_events_request(start_block=0)
        seek = common_pb2.Envelope.FromString(request.with_signature(gateway.sign(request.payload)).bytes)
        replies = list(ab_pb2_grpc.AtomicBroadcastStub(channel).Deliver(iter([seek]), timeout=10))
    assert [r.WhichOneof("Type") for r in replies] == ["status"]
    assert replies[0].status == 403  # FORBIDDEN
    # An auditor still reads them.
    assert list(BlockReader(people.auditor.gateway, network.c.channel).blocks(0, 1))


# -- 5. back-dated proposals ------------------------------------------------------------------------------------
def test_5_a_back_dated_proposal_is_refused(people: People, monkeypatch: pytest.MonkeyPatch) -> None:
    record = people.dr_h1.create_record(people.alice.member_id(), OBSERVATION, "laboratory")
    real = time.time_ns
    monkeypatch.setattr(proposal_module.time, "time_ns", lambda: real() - 50 * 1_000_000_000)
    with pytest.raises(EndorseError) as refused:
        people.dr_h2.request_access([record["id"]], "treatment")
    assert _refusal(refused.value) == "FAILED_PRECONDITION"
    assert "timestamp" in str(refused.value)


# -- 6. an access transaction is not a permanent capability --------------------------------------------------
def test_6_an_old_break_glass_access_does_not_open_a_new_version(people: People) -> None:
    record = people.dr_h1.create_record(people.alice.member_id(), OBSERVATION, "laboratory")
    glass = people.dr_h1.emergency_access([record["id"]], "Unconscious patient in the ED, need the latest labs")
    rotated = people.alice.rotate_record(record["id"])
    with pytest.raises(StoreError) as store:
        people.dr_h1.store("Hospital1MSP").get(rotated["ciphertext_sha256"], record["id"], glass["tx_id"])
    assert store.value.status == 403
    assert "newer version" in str(store.value)
    keys = people.dr_h1.evaluate("GetAccessKeys", glass["tx_id"])["keys"][record["id"]]
    assert keys["available"] is False


# -- 7. operator functions --------------------------------------------------------------------------------------
def test_7_the_diag_contract_is_for_admins(network: Network, people: People) -> None:
    diag = people.dr_h1.gateway.network(network.c.channel).contract(network.c.chaincode_name, "diag")
    with pytest.raises(EndorseError) as refused:
        diag.submit_transaction("Put", f"junk-{RUN}", "anything at all")
    assert _refusal(refused.value) == "NOT_AUTHORIZED"


# -- 9. inference records ---------------------------------------------------------------------------------------
def test_9_an_invented_inference_with_zero_digests_is_refused(people: People) -> None:
    record = people.dr_h1.create_record(people.alice.member_id(), OBSERVATION, "laboratory")
    grant = people.alice.grant(
        people.dr_h2.member_id(), ["diagnosis-ai"], "2099-01-01T00:00:00Z", record_ids=[record["id"]]
    )
    grant_seen(people.dr_h2, grant["id"])  # granted through Hospital1's peer; asked for through Hospital2's
    access = people.dr_h2.request_access([record["id"]], "diagnosis-ai")
    models = people.dr_h2.models()
    approved = next((m for m in models if m["status"] == "approved"), None)
    batch = {
        "model_id": approved["model_id"] if approved else "none",
        "version": approved["version"] if approved else "1.0.0",
        "artifact_sha256": approved["artifact_sha256"] if approved else "0" * 64,
        "access_tx_id": access["tx_id"],
        "inferences": [
            {
                "record_id": record["id"],
                "ciphertext_sha256": record["ciphertext_sha256"],
                "input_sha256": "0" * 64,
                "explanation_sha256": "0" * 64,
            }
        ],
    }
    transient = {"outputs": {record["id"]: {"label": "positive", "probability": 0.991}}, "salt": "s" * 32}
    with pytest.raises(EndorseError) as refused:
        people.dr_h2.submit("RecordInferences", batch, transient=transient)
    assert _refusal(refused.value) in ("INVALID_ARGUMENT", "NOT_FOUND")


# -- low ----------------------------------------------------------------------------------------------------------
def test_low_a_patient_of_the_grantee_org_sees_no_grants_to_it(network: Network, people: People) -> None:
    patient_h2 = _person(network, "hospital2", f"h2-pc-{RUN}", "patient")
    try:
        with pytest.raises(EndorseError) as refused:
            patient_h2.evaluate("ListGrantsByGrantee", "org:Hospital2MSP", "10", "")
        assert _refusal(refused.value) == "NOT_AUTHORIZED"
    finally:
        patient_h2.close()


def test_low_a_same_hospital_clinician_does_not_list_a_patients_records_without_consent(
    network: Network, people: People
) -> None:
    people.dr_h1.create_record(people.alice.member_id(), OBSERVATION, "laboratory")
    colleague = _person(network, "hospital1", f"h1-dr2-{RUN}", "clinician")
    try:
        with pytest.raises(EndorseError) as refused:
            colleague.evaluate("ListPatientRecords", people.alice.member_id(), "10", "")
        assert _refusal(refused.value) == "NOT_AUTHORIZED"
    finally:
        colleague.close()


@pytest.mark.parametrize("until", ["0999-12-31T23:59:59Z", "9999-12-31T23:59:59Z", "2027-13-01T00:00:00Z"])
def test_low_absurd_times_are_refused(people: People, until: str) -> None:
    with pytest.raises(EndorseError) as refused:
        people.alice.submit(
            "GrantConsent",
            {"grantee": people.dr_h2.member_id(), "purposes": ["treatment"], "valid_until": until, "categories": ["x"]},
            transient={"wrapped_keys": {}},
        )
    assert _refusal(refused.value) == "INVALID_ARGUMENT"


def test_low_a_justification_of_spaces_is_refused(people: People) -> None:
    record = people.dr_h1.create_record(people.alice.member_id(), OBSERVATION, "laboratory")
    with pytest.raises(EndorseError) as refused:
        people.dr_h1.emergency_access([record["id"]], " " * 40)
    assert _refusal(refused.value) == "INVALID_ARGUMENT"


def test_low_no_blob_for_a_record_the_ledger_does_not_have(people: People) -> None:
    blob = ccrypto.seal(b"{}", ccrypto.new_record_key(), ccrypto.RecordRef("rec-nowhere", people.alice.member_id(), 1))
    with pytest.raises(StoreError) as refused:
        people.dr_h1.store("Hospital1MSP").put(blob, f"rec-nowhere-{RUN}")
    assert refused.value.status == 404
