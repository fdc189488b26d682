"""The cases of the authorization matrix: (case id, user, function, arguments from the scene, write?,
allowed?). Function x role x own/other organization."""

from __future__ import annotations

import json
from typing import Any

from joserfc.jwk import ECKey

from .authorization_scene import (
    Arguments,
    Scene,
    approval_of,
    current_org_key,
    emergency_on_spare,
    grant_doc,
    jwe,
    model_doc,
    new_record,
    page_of,
    policy_for_scene,
    q,
    verify_scene_access,
)


def review_of(decision: str) -> Arguments:
    """ReviewInference of the scene's inference; the reason travels as transient data."""
    return lambda s: [
        {"inference_id": s.inference, "decision": decision, "reason": "matches the biopsy report seen today"}
    ]


def outcome_of(value: int) -> Arguments:
    """RecordOutcome of the scene's inference; the outcome travels as transient data."""
    return lambda s: [{"inference_id": s.inference, "outcome": {"value": value, "subgroups": []}}]


def _verifications(s: Scene) -> list[Any]:
    """ListModelVerifications of the scene's model: its first page."""
    return [s.model, "2.0.0", "10", ""]


def _recovery_of(user: str) -> Arguments:
    """OpenKeyRecovery of a user's key, naming some certificate (the refusals come before it is looked at)."""
    return lambda s: [{"member_id": q(user), "proofing": "in-person", "certificate_sha256": "0" * 64}]


def _rewrap_of(user: str) -> Arguments:
    """RewrapRecoveredKeys of the scene's record for a user; the wrapped key travels as transient data."""
    return lambda s: [
        {
            "member_id": q(user),
            "records": [{"record_id": s.record, "version": 1}],
            "wrapped_keys": {s.record: jwe("rewrapped")},
        }
    ]


# (case id, user, function, arguments from the scene, write?, allowed?)
Case = tuple[str, str, str, Arguments, bool, bool]
H1, H2, HA = "Hospital1MSP", "Hospital2MSP", "HealthAuthorityMSP"
# fmt: off
CASES: list[Case] = [
    # record metadata
    ("get-record/patient-own", "h1-patient-1", "GetRecord", lambda s: [s.record], False, True),
    ("get-record/patient-other", "h2-patient-1", "GetRecord", lambda s: [s.record], False, False),
    ("get-record/same-org-patient", "h1-patient-2", "GetRecord", lambda s: [s.record], False, False),
    ("get-record/custodian-clinician", "h1-clinician-1", "GetRecord", lambda s: [s.record], False, True),
    ("get-record/grantee-clinician-other-org", "h2-clinician-1", "GetRecord", lambda s: [s.record], False, True),
    ("get-record/ungranted-clinician-other-org", "h2-clinician-1", "GetRecord", lambda s: [s.spare_record], False,
     False),
    ("get-record/researcher", "h1-researcher-1", "GetRecord", lambda s: [s.record], False, False),
    ("get-record/authority-auditor", "ha-auditor-1", "GetRecord", lambda s: [s.record], False, True),
    ("get-record/custodian-admin", "h1-admin", "GetRecord", lambda s: [s.record], False, True),
    ("get-record/other-admin", "h2-admin", "GetRecord", lambda s: [s.record], False, False),
    # creating records
    ("create-record/clinician", "h1-clinician-1", "CreateRecord", new_record("c1", "h1-patient-2", H1), True, True),
    ("create-record/clinician-other-org", "h2-clinician-1", "CreateRecord", new_record("c2", "h1-patient-2", H2),
     True, True),
    ("create-record/patient", "h1-patient-1", "CreateRecord", new_record("c3", "h1-patient-1", H1), True, False),
    ("create-record/researcher", "h1-researcher-1", "CreateRecord", new_record("c4", "h1-patient-1", H1), True,
     False),
    ("create-record/auditor", "ha-auditor-1", "CreateRecord", new_record("c5", "h1-patient-1", HA), True, False),
    ("create-record/admin", "h1-admin", "CreateRecord", new_record("c6", "h1-patient-1", H1), True, False),
    # consent
    ("grant/patient-own", "h1-patient-1", "GrantConsent",
     grant_doc("h1-researcher-1", lambda s: s.spare_record, "research"), True, True),
    ("grant/patient-others-record", "h1-patient-2", "GrantConsent",
     grant_doc("h1-researcher-1", lambda s: s.record, "research"), True, False),
    ("grant/clinician", "h1-clinician-1", "GrantConsent",
     grant_doc("h2-clinician-1", lambda s: s.record, "treatment"), True, False),
    ("revoke/other-patient", "h1-patient-2", "RevokeConsent", lambda s: [s.grant], True, False),
    ("revoke/grantee", "h2-clinician-1", "RevokeConsent", lambda s: [s.grant], True, False),
    ("list-grants/patient-own", "h1-patient-1", "ListGrantsByPatient", page_of("h1-patient-1"), False, True),
    ("list-grants/other-patient", "h1-patient-2", "ListGrantsByPatient", page_of("h1-patient-1"), False, False),
    ("list-grants/clinician", "h2-clinician-1", "ListGrantsByPatient", page_of("h1-patient-1"), False, False),
    ("list-grants/authority-auditor", "ha-auditor-1", "ListGrantsByPatient", page_of("h1-patient-1"), False, True),
    ("grants-by-grantee/self", "h2-clinician-1", "ListGrantsByGrantee", page_of("h2-clinician-1"), False, True),
    ("grants-by-grantee/other-org-clinician", "h1-clinician-1", "ListGrantsByGrantee", page_of("h2-clinician-1"),
     False, False),
    # access and audit
    ("emergency/clinician", "h1-clinician-1", "EmergencyAccess", emergency_on_spare, True, True),
    ("emergency/researcher", "h1-researcher-1", "EmergencyAccess", emergency_on_spare, True, False),
    ("emergency/patient", "h1-patient-1", "EmergencyAccess", emergency_on_spare, True, False),
    ("verify/custodian-admin", "h1-admin", "VerifyAccess", verify_scene_access, False, True),
    ("verify/requester", "h2-clinician-1", "VerifyAccess", verify_scene_access, False, True),
    ("verify/other-admin", "h2-admin", "VerifyAccess", verify_scene_access, False, False),
    ("verify/other-patient", "h1-patient-2", "VerifyAccess", verify_scene_access, False, False),
    ("access-log/patient-own", "h1-patient-1", "ListAccessByPatient", page_of("h1-patient-1"), False, True),
    ("access-log/other-patient", "h2-patient-1", "ListAccessByPatient", page_of("h1-patient-1"), False, False),
    ("access-log/researcher", "h1-researcher-1", "ListAccessByPatient", page_of("h1-patient-1"), False, False),
    ("access-log/authority-auditor", "ha-auditor-1", "ListAccessByPatient", page_of("h1-patient-1"), False, True),
    ("requester-log/self", "h2-clinician-1", "ListAccessByRequester", page_of("h2-clinician-1"), False, True),
    ("requester-log/own-org-admin", "h2-admin", "ListAccessByRequester", page_of("h2-clinician-1"), False, True),
    ("requester-log/other-org-admin", "h1-admin", "ListAccessByRequester", page_of("h2-clinician-1"), False, False),
    ("all-access/authority-auditor", "ha-auditor-1", "ListAllAccess", lambda s: ["10", ""], False, True),
    ("all-access/authority-admin", "ha-admin", "ListAllAccess", lambda s: ["10", ""], False, False),
    ("all-access/clinician", "h1-clinician-1", "ListAllAccess", lambda s: ["10", ""], False, False),
    # erasure
    ("erase/other-patient", "h1-patient-2", "EraseRecord", lambda s: [s.record], True, False),
    ("erase/custodian-clinician", "h1-clinician-1", "EraseRecord", lambda s: [s.record], True, False),
    # models
    ("register-model/researcher", "h1-researcher-1", "RegisterModel", lambda s: [model_doc("1.1.0")], True, True),
    ("register-model/clinician", "h1-clinician-1", "RegisterModel", lambda s: [model_doc("1.2.0")], True, False),
    ("register-model/patient", "h1-patient-1", "RegisterModel", lambda s: [model_doc("1.3.0")], True, False),
    ("approve-model/authority-auditor", "ha-auditor-1", "ApproveModel", approval_of("1.0.0"), True, True),
    ("approve-model/researcher", "h1-researcher-1", "ApproveModel", approval_of("1.0.0"), True, False),
    ("approve-model/hospital-admin", "h1-admin", "ApproveModel", approval_of("1.0.0"), True, False),
    ("approve-model/authority-admin", "ha-admin", "ApproveModel", approval_of("1.0.0"), True, False),
    ("set-policy/authority-auditor", "ha-auditor-1", "SetApprovalPolicy", policy_for_scene, True, True),
    ("set-policy/hospital-admin", "h1-admin", "SetApprovalPolicy", policy_for_scene, True, False),
    ("set-policy/researcher", "h1-researcher-1", "SetApprovalPolicy", policy_for_scene, True, False),
    ("read-policy/patient", "h1-patient-1", "GetApprovalPolicy", lambda s: [s.model, ""], False, True),
    # tracing, oversight and use logs of an inference on h1-patient-1's record by h2-clinician-1
    ("trace/patient", "h1-patient-1", "TraceInference", lambda s: [s.inference], False, True),
    ("trace/authority-auditor", "ha-auditor-1", "TraceInference", lambda s: [s.inference], False, True),
    ("trace/grantee-clinician", "h2-clinician-1", "TraceInference", lambda s: [s.inference], False, True),
    ("trace/other-patient", "h2-patient-1", "TraceInference", lambda s: [s.inference], False, False),
    ("trace/researcher", "h1-researcher-1", "TraceInference", lambda s: [s.inference], False, False),
    ("review/grantee-clinician", "h2-clinician-1", "ReviewInference", review_of("confirm"), True, True),
    ("review/patient", "h1-patient-1", "ReviewInference", review_of("confirm"), True, False),
    ("review/researcher", "h1-researcher-1", "ReviewInference", review_of("confirm"), True, False),
    ("reviews/patient", "h1-patient-1", "GetInferenceReviews", lambda s: [s.inference], False, True),
    ("reviews/other-patient", "h2-patient-1", "GetInferenceReviews", lambda s: [s.inference], False, False),
    ("outcome/patient", "h1-patient-1", "RecordOutcome", outcome_of(1), True, False),
    ("outcome/researcher", "h1-researcher-1", "RecordOutcome", outcome_of(1), True, False),
    ("outcome/grantee-clinician", "h2-clinician-1", "RecordOutcome", outcome_of(1), True, True),
    ("model-use/authority-auditor", "ha-auditor-1", "GetModelUse", lambda s: [s.model, "2.0.0"], False, True),
    ("model-use/registering-researcher", "h1-researcher-1", "GetModelUse", lambda s: [s.model, "2.0.0"], False, True),
    ("model-use/clinician", "h2-clinician-1", "GetModelUse", lambda s: [s.model, "2.0.0"], False, False),
    ("model-use/hospital-admin", "h1-admin", "GetModelUse", lambda s: [s.model, "2.0.0"], False, False),
    ("model-verifications/authority-auditor", "ha-auditor-1", "ListModelVerifications", _verifications, False, True),
    ("model-verifications/clinician", "h2-clinician-1", "ListModelVerifications", _verifications, False, False),
    ("performance/authority-auditor", "ha-auditor-1", "GetModelPerformance", lambda s: [s.model, "2.0.0"], False, True),
    ("performance/patient", "h1-patient-1", "GetModelPerformance", lambda s: [s.model, "2.0.0"], False, False),
    ("retire-model/clinician", "h2-clinician-1", "RetireModel", lambda s: [s.model, "1.0.0", "no"], True, False),
    # organization keys
    ("org-key/admin", "h2-admin", "RegisterOrganizationKey", lambda s: [current_org_key(H2, s)], True, True),
    ("org-key/clinician", "h2-clinician-1", "RegisterOrganizationKey",
     lambda s: [json.dumps(ECKey.generate_key("P-256").as_dict(private=False))], True, False),
    # compromised keys and key recovery: refusals only (an allowed case would compromise a key the scene uses);
    # the report goes as JSON text, since split_private would move a dict's "reason" to transient data
    ("key-compromised/other-org-admin", "h2-admin", "ReportKeyCompromised",
     lambda s: [json.dumps({"member_id": q("h1-clinician-1"), "reason": "left-organization"})], True, False),
    ("key-compromised/colleague", "h1-clinician-1", "ReportKeyCompromised",
     lambda s: [json.dumps({"member_id": q("h1-researcher-1"), "reason": "lost-device"})], True, False),
    ("key-recovery/other-org-admin", "h2-admin", "OpenKeyRecovery", _recovery_of("h1-patient-1"), True, False),
    ("key-recovery/patient-self", "h1-patient-1", "OpenKeyRecovery", _recovery_of("h1-patient-1"), True, False),
    ("key-recovery/clinician", "h1-clinician-1", "OpenKeyRecovery", _recovery_of("h1-patient-1"), True, False),
    ("get-key-recovery/other-patient", "h1-patient-2", "GetKeyRecovery", lambda s: [q("h1-patient-1")], False,
     False),
    ("get-key-recovery/other-org-admin", "h2-admin", "GetKeyRecovery", lambda s: [q("h1-patient-1")], False, False),
    ("get-key-recovery/clinician", "h1-clinician-1", "GetKeyRecovery", lambda s: [q("h1-patient-1")], False, False),
    ("rewrap-list/clinician", "h1-clinician-1", "GetRecoveryKeysToRewrap", lambda s: [q("h1-patient-1")], False,
     False),
    ("rewrap-list/patient", "h1-patient-1", "GetRecoveryKeysToRewrap", lambda s: [q("h1-patient-1")], False, False),
    ("recoveries-to-rewrap/admin", "h1-admin", "ListKeyRecoveriesToRewrap", lambda s: ["10", ""], False, True),
    ("recoveries-to-rewrap/clinician", "h1-clinician-1", "ListKeyRecoveriesToRewrap", lambda s: ["10", ""], False,
     False),
    ("recoveries-to-rewrap/patient", "h1-patient-1", "ListKeyRecoveriesToRewrap", lambda s: ["10", ""], False,
     False),
    ("recoveries-to-rewrap/auditor", "ha-auditor-1", "ListKeyRecoveriesToRewrap", lambda s: ["10", ""], False,
     False),
    ("rewrap/clinician", "h1-clinician-1", "RewrapRecoveredKeys", _rewrap_of("h1-patient-1"), True, False),
    ("rewrap/patient", "h1-patient-1", "RewrapRecoveredKeys", _rewrap_of("h1-patient-1"), True, False),
    # what a hospital's store should hold: that hospital's admins only
    ("custody/admin", "h1-admin", "ListCustodianRecords", lambda s: ["10", ""], False, True),
    ("custody/clinician", "h1-clinician-1", "ListCustodianRecords", lambda s: ["10", ""], False, False),
    ("custody/patient", "h1-patient-1", "ListCustodianRecords", lambda s: ["10", ""], False, False),
]
# fmt: on
