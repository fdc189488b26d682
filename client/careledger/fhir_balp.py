"""The access trail out: each ledger access decision as a FHIR R4 AuditEvent, following IHE Basic Audit Log
Patterns (BALP).

A decision on the ledger is an authorization decision: the contract decides, from the patient's consents
and the requester's role, whether the requester may have one record, records the decision, and only then
releases a key (the read itself happens later, at the custodian's record store). So the events follow
BALP's pattern for an authorization decision (AuthZconsent):
- type DICOM 110113 (Security Alert); subtype BALP AuthZ-Consent (a decision on consents and roles), or
  AuthZ-Role when no consent is looked at (break-glass, a patient opening their own record); action E;
- outcome 0 when allowed, 4 (minor failure) when denied, the contract's reason as outcomeDesc;
- purposeOfEvent: the HL7 v3 PurposeOfUse code (TREAT, HRESCH; BTG for break-glass), with CareLedger's
  purpose as its text;
- agents: the user who asked (v3 ParticipationType IRCP, by ledger id, requestor, the certificate's role as
  role text), the user's organization (v3 RoleClass PROV, by MSP id), and the ledger as the authorization
  server (extra-security-role-type authserver), which is also source.observer (security-source-type 6);
- entities: the patient (audit-entity-type 1, object-role 1), the consent that allowed the access (a
  Consent by its grant id, as CareLedger's Consent exports carry it) when a grant did.
- a proxy acting for a patient (IHE PCF's delegate case; the ledger checked the proxy's rights): the user
  agent is the proxy, as a RelatedPerson, and one more agent names the patient they acted for (v3 RoleClass
  PAT, not a requestor), since R4's AuditEvent.agent has no onBehalfOf; the decision is by role (AuthZ-Role):
  no consent is looked at, only the proxy relation.

Where these events depart from the AuthZconsent profile, and why (so they claim no meta.profile):
- no client-application agent: the ledger sees the requester's signed transaction, not the application or
  its network address, which the profile requires;
- one more entity, the record decided on (audit-entity-type 2, object-role 4, by record id) with the Fabric
  transaction id and the custodian as details: the profile's entity list is closed, but an audit trail of
  record access must say which record;
- no consent entity when no consent allowed the access (a denial, break-glass, the patient's own record),
  and no patient entity when the record asked for does not exist: there is none to name.
"""

from __future__ import annotations

from typing import Any

from careledger_protocol import BREAK_THE_GLASS_PURPOSE_OF_USE, PURPOSE_OF_USE, AuditEvent

from ._fhir_common import (
    DICOM,
    GRANT_SYSTEM,
    RECIPIENT,
    RECORD_SYSTEM,
    V3_ROLE_CLASS,
    member,
    narrative,
    organization,
    purpose_of_use,
    validate,
)

AUTHZ_SUBTYPE = "https://profiles.ihe.net/ITI/BALP/CodeSystem/AuthZsubType"
AUDIT_ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
# The ledger: the contract every decision is made and recorded by (the consortium's chaincode).
LEDGER = {
    "type": "Device",
    "identifier": {"system": "urn:careledger:ledger", "value": "careledger"},
    "display": "the CareLedger ledger (the consortium's careledger chaincode)",
}
_THO = "http://terminology.hl7.org/CodeSystem/"
_AUTHORIZATION_SERVER = {"system": _THO + "extra-security-role-type", "code": "authserver"}
_SECURITY_SERVER = {"system": _THO + "security-source-type", "code": "6"}


def audit_event(event: AuditEvent) -> dict[str, Any]:
    """A ledger access decision as a FHIR AuditEvent (IHE BALP authorization decision)."""
    allowed = event["decision"] == "allowed"
    acting_for = event.get("on_behalf_of")  # the patient a proxy acted for
    role_only = event["emergency"] or event["requester"] in (event["patient_id"], acting_for) or bool(acting_for)
    purpose = BREAK_THE_GLASS_PURPOSE_OF_USE if event["emergency"] else PURPOSE_OF_USE[event["purpose"]]
    return validate(
        {
            "resourceType": "AuditEvent",
            "id": f"{event['tx_id'][:40]}-{event['n']}",
            "text": narrative(
                f"{event['requester']}{f' (for {acting_for}, as their proxy)' if acting_for else ''} asked for "
                f"{event['record_id'] or 'a record'} for {event['purpose']}"
                f"{' (emergency)' if event['emergency'] else ''} at {event['time']}: {event['decision']}"
                f" ({event['reason']})."
            ),
            "type": {"system": DICOM, "code": "110113", "display": "Security Alert"},
            "subtype": [{"system": AUTHZ_SUBTYPE, "code": "AuthZ-Role" if role_only else "AuthZ-Consent"}],
            "action": "E",
            "recorded": event["time"],
            "outcome": "0" if allowed else "4",
            "outcomeDesc": event["reason"],
            "purposeOfEvent": [
                {
                    "coding": [purpose_of_use(purpose)],
                    "text": f"{event['purpose']}{' (break-glass)' if event['emergency'] else ''}",
                }
            ],
            "agent": [
                {
                    "type": {"coding": [RECIPIENT]},
                    "role": [{"text": f"proxy of {acting_for}" if acting_for else event["requester_role"]}],
                    "who": member(event["requester"], "RelatedPerson") if acting_for else member(event["requester"]),
                    "requestor": True,
                },
                *_represented(acting_for),
                {
                    "type": {"coding": [{"system": V3_ROLE_CLASS, "code": "PROV"}]},
                    "who": organization(event["requester_org"]),
                    "requestor": False,
                },
                {"type": {"coding": [_AUTHORIZATION_SERVER]}, "who": LEDGER, "requestor": False},
            ],
            "source": {"observer": LEDGER, "type": [_SECURITY_SERVER]},
            "entity": [*_patient(event), *_consent(event), _record(event)],
        }
    )


def _represented(patient_id: str | None) -> list[dict[str, Any]]:
    """The patient a proxy acted for, as an agent who did not ask (none when nobody acted for another)."""
    if not patient_id:
        return []
    return [
        {
            "type": {"coding": [{"system": V3_ROLE_CLASS, "code": "PAT", "display": "patient"}]},
            "role": [{"text": "the patient the requester acted for, as their proxy"}],
            "who": member(patient_id, "Patient"),
            "requestor": False,
        }
    ]


def _patient(event: AuditEvent) -> list[dict[str, Any]]:
    """The patient whose record was asked for; none when the record asked for does not exist."""
    if not event["patient_id"]:
        return []
    return [
        {
            "what": member(event["patient_id"], "Patient"),
            "type": {"system": AUDIT_ENTITY_TYPE, "code": "1"},
            "role": {"system": OBJECT_ROLE, "code": "1"},
        }
    ]


def _consent(event: AuditEvent) -> list[dict[str, Any]]:
    """The consent (ledger grant) that allowed the access, when one did."""
    grant_id = event.get("consent_id")
    if not grant_id or event["decision"] != "allowed":
        return []
    return [
        {
            "what": {"type": "Consent", "identifier": {"system": GRANT_SYSTEM, "value": grant_id}},
            "type": {"system": "http://hl7.org/fhir/resource-types", "code": "Consent"},
        }
    ]


def _record(event: AuditEvent) -> dict[str, Any]:
    """The record decided on, with the Fabric transaction (what `careledger audit check` looks up in the
    blocks) and the record's custodian."""
    details = [{"type": "fabric-transaction", "valueString": event["tx_id"]}]
    if event["custodian"]:
        details.append({"type": "custodian", "valueString": event["custodian"]})
    return {
        "what": {"identifier": {"system": RECORD_SYSTEM, "value": event["record_id"]}},
        "type": {"system": AUDIT_ENTITY_TYPE, "code": "2"},
        "role": {"system": OBJECT_ROLE, "code": "4"},
        "detail": details,
    }
