"""The consent model's words: purposes, roles, resource types, the break-glass rule, the collection."""

from __future__ import annotations

# What a record may be opened for, and which role may open it for that.
PURPOSES = ("treatment", "diagnosis-ai", "research")
PURPOSE_ROLES = {"treatment": ("clinician",), "diagnosis-ai": ("clinician",), "research": ("researcher",)}
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
