"""The scene of the authorization matrix (tests/network/test_authorization_matrix.py): its users, the
records, grant, model and access they act on, and how arguments are sent."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from careledger_protocol import sha256_of_json
from fabric_gateway import Contract

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
            for name in ("wrapped_keys", "justification", "reason", "outcome", "outputs", "explanations"):
                if name in arg:
                    value = arg.pop(name)
                    transient[name] = value.encode() if isinstance(value, str) else json.dumps(value).encode()
            if transient.keys() & {"justification", "reason", "outcome", "outputs"}:
                transient["salt"] = SALT.encode()
        encoded.append(arg if isinstance(arg, str) else json.dumps(arg))
    return encoded, transient or None


def jwe(tag: str) -> dict[str, str]:
    return {"protected": "eyJ9", "encrypted_key": tag, "iv": "iv", "ciphertext": "ct", "tag": "tg"}


def sha(text: str) -> str:
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
    inference: str = ""  # <tx_id>:<n> of an approved version's inference on `record`, by h2-clinician-1

    def call(self, user: str, function: str, *args: Any, write: bool) -> Any:
        contract = self.contracts[user]
        encoded, transient = split_private(list(args))
        if write:
            return json.loads(contract.submit_transaction(function, *encoded, transient=transient) or b"null")
        return json.loads(contract.evaluate_transaction(function, *encoded, transient=transient) or b"null")


def record_doc(record_id: str, patient: str, custodian_msp: str) -> dict[str, Any]:
    return {
        "record_id": record_id,
        "patient_id": patient,
        "category": f"matrix-{RUN}",
        "resource_type": "Observation",
        "ciphertext_sha256": sha(record_id),
        "size": 10,
        "locator": f"sha256/{sha(record_id)}",
        "wrapped_keys": {patient: jwe("p"), f"org:{custodian_msp}": jwe("c")},
    }


def model_doc(version: str) -> dict[str, Any]:
    return {
        "model_id": f"matrix-{RUN}",
        "version": version,
        "artifact_sha256": sha(version),
        "format": "xgboost-json",
        "training_data_fingerprint": sha("data"),
        "feature_schema": [{"name": "f1", "type": "float"}],
        "parameters": {"seed": 1},
        "metrics": {"auc": 0.9},
        "code_ref": "test",
        "training": {
            "seed": 1,
            "evaluation_fingerprint": sha("evaluation"),
            "schema_sha256": sha256_of_json([{"name": "f1", "type": "float"}]),
            "transform_sha256": sha("transform"),
            "data_source": "scikit-learn:matrix",
        },
    }


def inference_batch(s: Scene, access_tx: str, version: str) -> dict[str, Any]:
    """RecordInferences of model_doc(version) on the scene's record, outputs and explanation included (they
    travel as transient data)."""
    explanation = {"bias": -0.1, "f1": 0.4}
    record = s.call("h2-clinician-1", "GetRecord", s.record, write=False)
    return {
        **{k: model_doc(version)[k] for k in ("model_id", "version", "artifact_sha256")},
        "access_tx_id": access_tx,
        "inferences": [
            {
                "record_id": s.record,
                "ciphertext_sha256": record["ciphertext_sha256"],
                "input_sha256": sha("matrix input"),
                "explanation_sha256": sha256_of_json(explanation),
            }
        ],
        "outputs": {s.record: {"label": "positive", "probability": 0.9}},
        "explanations": {s.record: explanation},
    }


def reproduction_doc(version: str) -> dict[str, Any]:
    """What an auditor who reproduced model_doc(version)'s metrics sends with ApproveModel."""
    model = model_doc(version)
    return {
        "artifact_sha256": model["artifact_sha256"],
        "evaluation_fingerprint": model["training"]["evaluation_fingerprint"],
        "metrics": model["metrics"],
        "subgroup_metrics": {},
    }


def approval_of(version: str) -> Arguments:
    """ApproveModel of the scene's model version, with the reproduced metrics."""
    return lambda s: [s.model, version, reproduction_doc(version)]


def policy_for_scene(s: Scene) -> list[Any]:
    """An approval policy the scene's model meets (set again, as a new version, by each allowed case)."""
    return [{"model_id": s.model, "min_metrics": {"auc": 0.8}}]


def current_org_key(msp: str, s: Scene) -> str:
    """Re-registering the org's current key keeps the admin's wallet key valid for other tests."""
    return json.dumps(s.call("h2-admin", "GetMember", f"org:{msp}", write=False)["public_key"])


# -- argument builders: what a case sends, built from the scene -----------------------------------------------------
Arguments = Callable[[Scene], list[Any]]


def grant_doc(grantee: str, record: Callable[[Scene], str], purpose: str) -> Arguments:
    """GrantConsent of one record (picked from the scene) to grantee for one purpose."""

    def build(s: Scene) -> list[Any]:
        record_id = record(s)
        return [
            {
                "grantee": q(grantee),
                "record_ids": [record_id],
                "purposes": [purpose],
                "valid_until": "2099-01-01T00:00:00Z",
                "wrapped_keys": {record_id: jwe(grantee)},
            }
        ]

    return build


def page_of(user: str) -> Arguments:
    """The first page (10 items) of a list keyed by user."""
    return lambda s: [q(user), "10", ""]


def emergency_on_spare(s: Scene) -> list[Any]:
    return [{"record_ids": [s.spare_record], "justification": "matrix test: emergency access path"}]


def verify_scene_access(s: Scene) -> list[Any]:
    return [s.access_tx, q("h2-clinician-1"), s.record]


def new_record(tag: str, patient: str, custodian_msp: str) -> Arguments:
    """CreateRecord of a fresh record (this run's tag) for patient, held by custodian_msp."""
    return lambda s: [record_doc(f"mx-{RUN}-{tag}", q(patient), custodian_msp)]
