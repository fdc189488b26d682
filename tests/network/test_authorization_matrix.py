"""Authorization matrix on the live network: function x role x own/other org, through real transactions.

Writes that must be refused are endorsed only (a refusal fails endorsement, so nothing reaches the
orderer); writes that must be allowed are submitted and must commit VALID.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from careledger.errors import EndorseError
from careledger.gateway import Contract, Gateway, connect
from careledger.services import Session
from careledger_network.network import Network
from joserfc.jwk import ECKey

pytestmark = pytest.mark.network

RUN = uuid.uuid4().hex[:8]
USERS = {
    "h1-admin": "hospital1",
    "h1-clinician-1": "hospital1",
    "h1-researcher-1": "hospital1",
    "h1-patient-1": "hospital1",
    "h1-patient-2": "hospital1",
    "h2-admin": "hospital2",
    "h2-clinician-1": "hospital2",
    "h2-patient-1": "hospital2",
    "ha-admin": "healthauthority",
    "ha-auditor-1": "healthauthority",
}
MSP = {"hospital1": "Hospital1MSP", "hospital2": "Hospital2MSP", "healthauthority": "HealthAuthorityMSP"}
SALT = "matrix-salt-" + "0" * 24


def q(user: str) -> str:
    """A user's ledger id: its certificate's member_id qualified by its organization."""
    return f"{user}@{MSP[USERS[user]]}"


def split_private(args: list[Any]) -> tuple[list[str], dict[str, bytes] | None]:
    """Encode the arguments; wrapped keys and justifications move to transient data, where the chaincode
    wants them (they must never be in a block)."""
    encoded, transient = [], {}
    for arg in args:
        if isinstance(arg, dict):
            arg = dict(arg)
            for name in ("wrapped_keys", "justification"):
                if name in arg:
                    value = arg.pop(name)
                    transient[name] = value.encode() if isinstance(value, str) else json.dumps(value).encode()
            if "justification" in transient:
                transient["salt"] = SALT.encode()
        encoded.append(arg if isinstance(arg, str) else json.dumps(arg))
    return encoded, transient or None


def _jwe(tag: str) -> dict[str, str]:
    return {"protected": "eyJ9", "encrypted_key": tag, "iv": "iv", "ciphertext": "ct", "tag": "tg"}


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Scene:
    contracts: dict[str, Contract]
    record: str
    other_record: str
    spare_record: str
    grant: str
    model: str
    access_tx: str

    def call(self, user: str, function: str, *args: Any, write: bool) -> Any:
        contract = self.contracts[user]
        encoded, transient = split_private(list(args))
        if write:
            return json.loads(contract.submit_transaction(function, *encoded, transient=transient) or b"null")
        return json.loads(contract.evaluate_transaction(function, *encoded, transient=transient) or b"null")


def _record_doc(record_id: str, patient: str, custodian_msp: str) -> dict[str, Any]:
    return {
        "record_id": record_id,
        "patient_id": patient,
        "category": f"matrix-{RUN}",
        "resource_type": "Observation",
        "ciphertext_sha256": _sha(record_id),
        "size": 10,
        "locator": f"sha256/{_sha(record_id)}",
        "wrapped_keys": {patient: _jwe("p"), f"org:{custodian_msp}": _jwe("c")},
    }


def _model_doc(version: str) -> dict[str, Any]:
    return {
        "model_id": f"matrix-{RUN}",
        "version": version,
        "artifact_sha256": _sha(version),
        "format": "xgboost-json",
        "training_data_fingerprint": _sha("data"),
        "feature_schema": [{"name": "f1", "type": "float"}],
        "parameters": {"seed": 1},
        "metrics": {"auc": 0.9},
        "code_ref": "test",
    }


@pytest.fixture(scope="module")
def scene(network: Network) -> Iterator[Scene]:
    gateways: list[Gateway] = []
    contracts: dict[str, Contract] = {}
    for user, org in USERS.items():
        gw = connect(network.state / "profiles" / f"{org}.json", user)
        gateways.append(gw)
        contracts[user] = gw.network(network.c.channel).contract(network.c.chaincode_name)
    for user, org in USERS.items():  # encryption keys kept in the wallets, as every flow expects
        with Session.open(network.state / "profiles" / f"{org}.json", user) as session:
            session.register()
    s = Scene(contracts, f"mx-{RUN}-r1", f"mx-{RUN}-r2", f"mx-{RUN}-r3", "", f"matrix-{RUN}", "")
    s.call("h1-clinician-1", "CreateRecord", _record_doc(s.record, q("h1-patient-1"), "Hospital1MSP"), write=True)
    s.call("h1-clinician-1", "CreateRecord", _record_doc(s.spare_record, q("h1-patient-1"), "Hospital1MSP"), write=True)
    s.call("h2-clinician-1", "CreateRecord", _record_doc(s.other_record, q("h2-patient-1"), "Hospital2MSP"), write=True)
    grant = {
        "grantee": q("h2-clinician-1"),
        "record_ids": [s.record],
        "purposes": ["treatment", "diagnosis-ai"],
        "valid_until": "2099-01-01T00:00:00Z",
        "wrapped_keys": {s.record: _jwe("g")},
    }
    s.grant = s.call("h1-patient-1", "GrantConsent", grant, write=True)["id"]
    s.call("h1-researcher-1", "RegisterModel", _model_doc("1.0.0"), write=True)
    s.access_tx = s.call(
        "h2-clinician-1", "RequestAccess", {"record_ids": [s.record], "purpose": "treatment"}, write=True
    )["tx_id"]
    yield s
    for gw in gateways:
        gw.close()


def _current_org_key(msp: str, s: Scene) -> str:
    """Re-registering the org's current key keeps the admin's wallet key valid for other tests."""
    return json.dumps(s.call("h2-admin", "GetMember", f"org:{msp}", write=False)["public_key"])


# (case id, user, function, arguments from the scene, write?, allowed?)
Case = tuple[str, str, str, Callable[[Scene], list[Any]], bool, bool]
CASES: list[Case] = [
    # record metadata
    ("get-record/patient-own", "h1-patient-1", "GetRecord", lambda s: [s.record], False, True),
    ("get-record/patient-other", "h2-patient-1", "GetRecord", lambda s: [s.record], False, False),
    ("get-record/same-org-patient", "h1-patient-2", "GetRecord", lambda s: [s.record], False, False),
    ("get-record/custodian-clinician", "h1-clinician-1", "GetRecord", lambda s: [s.record], False, True),
    ("get-record/grantee-clinician-other-org", "h2-clinician-1", "GetRecord", lambda s: [s.record], False, True),
    (
        "get-record/ungranted-clinician-other-org",
        "h2-clinician-1",
        "GetRecord",
        lambda s: [s.spare_record],
        False,
        False,
    ),
    ("get-record/researcher", "h1-researcher-1", "GetRecord", lambda s: [s.record], False, False),
    ("get-record/authority-auditor", "ha-auditor-1", "GetRecord", lambda s: [s.record], False, True),
    ("get-record/custodian-admin", "h1-admin", "GetRecord", lambda s: [s.record], False, True),
    ("get-record/other-admin", "h2-admin", "GetRecord", lambda s: [s.record], False, False),
    # creating records
    (
        "create-record/clinician",
        "h1-clinician-1",
        "CreateRecord",
        lambda s: [_record_doc(f"mx-{RUN}-c1", q("h1-patient-2"), "Hospital1MSP")],
        True,
        True,
    ),
    (
        "create-record/clinician-other-org",
        "h2-clinician-1",
        "CreateRecord",
        lambda s: [_record_doc(f"mx-{RUN}-c2", q("h1-patient-2"), "Hospital2MSP")],
        True,
        True,
    ),
    (
        "create-record/patient",
        "h1-patient-1",
        "CreateRecord",
        lambda s: [_record_doc(f"mx-{RUN}-c3", q("h1-patient-1"), "Hospital1MSP")],
        True,
        False,
    ),
    (
        "create-record/researcher",
        "h1-researcher-1",
        "CreateRecord",
        lambda s: [_record_doc(f"mx-{RUN}-c4", q("h1-patient-1"), "Hospital1MSP")],
        True,
        False,
    ),
    (
        "create-record/auditor",
        "ha-auditor-1",
        "CreateRecord",
        lambda s: [_record_doc(f"mx-{RUN}-c5", q("h1-patient-1"), "HealthAuthorityMSP")],
        True,
        False,
    ),
    (
        "create-record/admin",
        "h1-admin",
        "CreateRecord",
        lambda s: [_record_doc(f"mx-{RUN}-c6", q("h1-patient-1"), "Hospital1MSP")],
        True,
        False,
    ),
    # consent
    (
        "grant/patient-own",
        "h1-patient-1",
        "GrantConsent",
        lambda s: [
            {
                "grantee": q("h1-researcher-1"),
                "record_ids": [s.spare_record],
                "purposes": ["research"],
                "valid_until": "2099-01-01T00:00:00Z",
                "wrapped_keys": {s.spare_record: _jwe("r")},
            }
        ],
        True,
        True,
    ),
    (
        "grant/patient-others-record",
        "h1-patient-2",
        "GrantConsent",
        lambda s: [
            {
                "grantee": q("h1-researcher-1"),
                "record_ids": [s.record],
                "purposes": ["research"],
                "valid_until": "2099-01-01T00:00:00Z",
                "wrapped_keys": {s.record: _jwe("r")},
            }
        ],
        True,
        False,
    ),
    (
        "grant/clinician",
        "h1-clinician-1",
        "GrantConsent",
        lambda s: [
            {
                "grantee": q("h2-clinician-1"),
                "record_ids": [s.record],
                "purposes": ["treatment"],
                "valid_until": "2099-01-01T00:00:00Z",
                "wrapped_keys": {s.record: _jwe("x")},
            }
        ],
        True,
        False,
    ),
    ("revoke/other-patient", "h1-patient-2", "RevokeConsent", lambda s: [s.grant], True, False),
    ("revoke/grantee", "h2-clinician-1", "RevokeConsent", lambda s: [s.grant], True, False),
    (
        "list-grants/patient-own",
        "h1-patient-1",
        "ListGrantsByPatient",
        lambda s: [q("h1-patient-1"), "10", ""],
        False,
        True,
    ),
    (
        "list-grants/other-patient",
        "h1-patient-2",
        "ListGrantsByPatient",
        lambda s: [q("h1-patient-1"), "10", ""],
        False,
        False,
    ),
    (
        "list-grants/clinician",
        "h2-clinician-1",
        "ListGrantsByPatient",
        lambda s: [q("h1-patient-1"), "10", ""],
        False,
        False,
    ),
    (
        "list-grants/authority-auditor",
        "ha-auditor-1",
        "ListGrantsByPatient",
        lambda s: [q("h1-patient-1"), "10", ""],
        False,
        True,
    ),
    (
        "grants-by-grantee/self",
        "h2-clinician-1",
        "ListGrantsByGrantee",
        lambda s: [q("h2-clinician-1"), "10", ""],
        False,
        True,
    ),
    (
        "grants-by-grantee/other-org-clinician",
        "h1-clinician-1",
        "ListGrantsByGrantee",
        lambda s: [q("h2-clinician-1"), "10", ""],
        False,
        False,
    ),
    # access and audit
    (
        "emergency/clinician",
        "h1-clinician-1",
        "EmergencyAccess",
        lambda s: [{"record_ids": [s.spare_record], "justification": "matrix test: emergency access path"}],
        True,
        True,
    ),
    (
        "emergency/researcher",
        "h1-researcher-1",
        "EmergencyAccess",
        lambda s: [{"record_ids": [s.spare_record], "justification": "matrix test: emergency access path"}],
        True,
        False,
    ),
    (
        "emergency/patient",
        "h1-patient-1",
        "EmergencyAccess",
        lambda s: [{"record_ids": [s.spare_record], "justification": "matrix test: emergency access path"}],
        True,
        False,
    ),
    (
        "verify/custodian-admin",
        "h1-admin",
        "VerifyAccess",
        lambda s: [s.access_tx, q("h2-clinician-1"), s.record],
        False,
        True,
    ),
    (
        "verify/requester",
        "h2-clinician-1",
        "VerifyAccess",
        lambda s: [s.access_tx, q("h2-clinician-1"), s.record],
        False,
        True,
    ),
    (
        "verify/other-admin",
        "h2-admin",
        "VerifyAccess",
        lambda s: [s.access_tx, q("h2-clinician-1"), s.record],
        False,
        False,
    ),
    (
        "verify/other-patient",
        "h1-patient-2",
        "VerifyAccess",
        lambda s: [s.access_tx, q("h2-clinician-1"), s.record],
        False,
        False,
    ),
    (
        "access-log/patient-own",
        "h1-patient-1",
        "ListAccessByPatient",
        lambda s: [q("h1-patient-1"), "10", ""],
        False,
        True,
    ),
    (
        "access-log/other-patient",
        "h2-patient-1",
        "ListAccessByPatient",
        lambda s: [q("h1-patient-1"), "10", ""],
        False,
        False,
    ),
    (
        "access-log/researcher",
        "h1-researcher-1",
        "ListAccessByPatient",
        lambda s: [q("h1-patient-1"), "10", ""],
        False,
        False,
    ),
    (
        "access-log/authority-auditor",
        "ha-auditor-1",
        "ListAccessByPatient",
        lambda s: [q("h1-patient-1"), "10", ""],
        False,
        True,
    ),
    (
        "requester-log/self",
        "h2-clinician-1",
        "ListAccessByRequester",
        lambda s: [q("h2-clinician-1"), "10", ""],
        False,
        True,
    ),
    (
        "requester-log/own-org-admin",
        "h2-admin",
        "ListAccessByRequester",
        lambda s: [q("h2-clinician-1"), "10", ""],
        False,
        True,
    ),
    (
        "requester-log/other-org-admin",
        "h1-admin",
        "ListAccessByRequester",
        lambda s: [q("h2-clinician-1"), "10", ""],
        False,
        False,
    ),
    ("all-access/authority-auditor", "ha-auditor-1", "ListAllAccess", lambda s: ["10", ""], False, True),
    ("all-access/authority-admin", "ha-admin", "ListAllAccess", lambda s: ["10", ""], False, False),
    ("all-access/clinician", "h1-clinician-1", "ListAllAccess", lambda s: ["10", ""], False, False),
    # erasure
    ("erase/other-patient", "h1-patient-2", "EraseRecord", lambda s: [s.record], True, False),
    ("erase/custodian-clinician", "h1-clinician-1", "EraseRecord", lambda s: [s.record], True, False),
    # models
    ("register-model/researcher", "h1-researcher-1", "RegisterModel", lambda s: [_model_doc("1.1.0")], True, True),
    ("register-model/clinician", "h1-clinician-1", "RegisterModel", lambda s: [_model_doc("1.2.0")], True, False),
    ("register-model/patient", "h1-patient-1", "RegisterModel", lambda s: [_model_doc("1.3.0")], True, False),
    ("approve-model/authority-auditor", "ha-auditor-1", "ApproveModel", lambda s: [s.model, "1.0.0"], True, True),
    ("approve-model/researcher", "h1-researcher-1", "ApproveModel", lambda s: [s.model, "1.0.0"], True, False),
    ("approve-model/hospital-admin", "h1-admin", "ApproveModel", lambda s: [s.model, "1.0.0"], True, False),
    ("approve-model/authority-admin", "ha-admin", "ApproveModel", lambda s: [s.model, "1.0.0"], True, False),
    ("retire-model/clinician", "h2-clinician-1", "RetireModel", lambda s: [s.model, "1.0.0", "no"], True, False),
    # organization keys
    (
        "org-key/admin",
        "h2-admin",
        "RegisterOrganizationKey",
        lambda s: [_current_org_key("Hospital2MSP", s)],
        True,
        True,
    ),
    (
        "org-key/clinician",
        "h2-clinician-1",
        "RegisterOrganizationKey",
        lambda s: [json.dumps(ECKey.generate_key("P-256").as_dict(private=False))],
        True,
        False,
    ),
]


@pytest.mark.parametrize(
    ("user", "function", "args", "write", "allowed"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_authorization(
    scene: Scene, user: str, function: str, args: Callable[[Scene], list[Any]], write: bool, allowed: bool
) -> None:
    contract = scene.contracts[user]
    encoded, transient = split_private(args(scene))
    if allowed:
        if write:
            transaction = contract.new_proposal(function, encoded, transient=transient).endorse()
            assert transaction.submit().status().successful
        else:
            contract.evaluate_transaction(function, *encoded, transient=transient)
        return
    step = (
        contract.new_proposal(function, encoded, transient=transient).endorse
        if write
        else lambda: contract.evaluate_transaction(function, *encoded, transient=transient)
    )
    with pytest.raises(EndorseError) as info:
        step()
    assert info.value.code == "NOT_AUTHORIZED", str(info.value)


@pytest.mark.parametrize(
    ("user", "record_attr", "purpose", "decision"),
    [
        ("h2-clinician-1", "record", "treatment", "allowed"),  # consent, other org
        ("h2-clinician-1", "record", "research", "denied"),  # wrong purpose and role
        ("h1-clinician-1", "record", "treatment", "denied"),  # custodian clinician without consent
        ("h1-patient-1", "record", "treatment", "allowed"),  # the patient's own record
        ("h2-patient-1", "record", "treatment", "denied"),  # another patient
        ("h1-researcher-1", "other_record", "research", "denied"),  # no consent
    ],
)
def test_access_decisions(scene: Scene, user: str, record_attr: str, purpose: str, decision: str) -> None:
    record = getattr(scene, record_attr)
    result = scene.call(user, "RequestAccess", {"record_ids": [record], "purpose": purpose}, write=True)
    assert result["decisions"][0]["decision"] == decision, result["decisions"][0]["reason"]
