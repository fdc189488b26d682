"""The consent model's words: purposes, roles, resource types, the break-glass rule, the collection."""

from __future__ import annotations

from enum import StrEnum


class Purpose(StrEnum):
    """What a record may be opened for (a consent names the purposes it allows)."""

    TREATMENT = "treatment"
    DIAGNOSIS_AI = "diagnosis-ai"  # an approved model's inference
    RESEARCH = "research"  # training and evaluating models


PURPOSES = tuple(p.value for p in Purpose)
# Each purpose in HL7 v3 PurposeOfUse (http://terminology.hl7.org/CodeSystem/v3-ActReason), the code other
# systems understand: an inference serves the patient's care, so it is treatment too.
PURPOSE_OF_USE: dict[str, str] = {
    Purpose.TREATMENT: "TREAT",
    Purpose.DIAGNOSIS_AI: "TREAT",
    Purpose.RESEARCH: "HRESCH",
}
BREAK_THE_GLASS_PURPOSE_OF_USE = "BTG"  # an emergency access without consent
# Which role may open a record for each purpose.
PURPOSE_ROLES: dict[str, tuple[str, ...]] = {
    Purpose.TREATMENT: ("clinician",),
    Purpose.DIAGNOSIS_AI: ("clinician",),
    Purpose.RESEARCH: ("researcher",),
}
# Roles people hold (the `role` attribute of their certificate); an organization's own key has role
# "organization" on the ledger, and an organization's service identities role "service".
ROLES = ("patient", "clinician", "researcher", "auditor", "admin")
PERSON_ROLES = ("patient", "clinician", "researcher", "auditor")
RESOURCE_TYPES = (
    "Observation",
    "DiagnosticReport",
    "Condition",
    "Procedure",
    "MedicationStatement",
    "ImagingStudy",
    "DocumentReference",
    "Bundle",
)
# A break-glass justification says something: at least this many letters.
MIN_JUSTIFICATION_LETTERS = 20
# The private data collection of the chaincode, held by every application organization's peers.
PRIVATE_COLLECTION = "careledger-private"


def valid_justification(text: str) -> bool:
    return sum(c.isalpha() for c in text) >= MIN_JUSTIFICATION_LETTERS
