"""The documents the healthcare contract returns, as the chaincode writes them and the clients read them.

They are JSON on the wire, so they are TypedDicts: the value is the parsed JSON itself (no copy, no
conversion), and the type checker holds both sides to the same keys. Times are ISO 8601 UTC strings,
ids are ledger ids (`<member_id>@<MSP>`, `org:<MSP>`), hashes are lowercase hex SHA-256.
"""

from __future__ import annotations

from typing import Any, Generic, Literal, NotRequired, TypedDict, TypeVar

Item = TypeVar("Item")

# A member's public encryption key as a JWK (EC P-256; the contract keeps only the public members).
PublicJwk = dict[str, str]
# A JWE (JSON serialization) of a record key wrapped for one recipient; the contract never opens it.
WrappedKey = dict[str, Any]


class Page(TypedDict, Generic[Item]):
    """One page of a listing; pass `bookmark` back for the next (empty: this was the last)."""

    items: list[Item]
    bookmark: str


class Caller(TypedDict):
    """WhoAmI: the caller as the ledger sees it."""

    member_id: str
    org: str
    role: str
    registered: bool


class Member(TypedDict):
    id: str
    org: str
    role: str  # a person's role, or "organization" for an organization's key
    public_key: PublicJwk
    updated_at: str
    updated_by: str


class Recipient(TypedDict):
    """Someone a record key must be wrapped for, with the public key to wrap it with."""

    id: str
    role: str
    org: str
    public_key: PublicJwk


class Record(TypedDict):
    """A record's metadata; its content is off the ledger, encrypted, at its custodian's store."""

    id: str
    patient_id: str
    sealed_for: str  # the patient id the ciphertext and wrapped keys are bound to
    custodian: str  # the MSP whose store keeps the ciphertext
    category: str
    resource_type: str
    version: int
    status: Literal["active", "erased"]
    created_at: str
    updated_at: str
    created_by: str
    ciphertext_sha256: NotRequired[str]  # absent once erased, with locator and size
    locator: NotRequired[str]
    size: NotRequired[int]
    erased_at: NotRequired[str]


class Grant(TypedDict):
    """A patient's consent to one grantee, for purposes, records and/or categories, until a time."""

    id: str
    patient_id: str
    grantee: str
    grantee_org: str
    record_ids: list[str]
    categories: list[str]
    purposes: list[str]
    valid_from: str
    valid_until: str
    status: Literal["active", "revoked"]
    created_at: str
    keyed_records: list[str]  # the records whose key the grantee holds through this grant
    revoked_at: NotRequired[str]


class Decision(TypedDict):
    """One record's answer in an access transaction."""

    record_id: str
    decision: Literal["allowed", "denied"]
    reason: str
    custodian: NotRequired[str]  # these three only when allowed
    version: NotRequired[int]
    key_available: NotRequired[bool]  # False: allowed, but no key for the caller (emergency elsewhere)


class AccessResult(TypedDict):
    """RequestAccess and EmergencyAccess: decisions only; the keys come from GetAccessKeys after commit."""

    tx_id: str
    time: str
    open_until: str  # the end of the window in which keys and ciphertexts are released
    purpose: str
    emergency: bool
    decisions: list[Decision]


class AccessKey(TypedDict):
    """The caller's wrapped key for one record an access transaction allowed, or why there is none."""

    available: bool
    reason: NotRequired[str]  # when not available
    recipient: NotRequired[str]  # the rest when available
    wrapped_key: NotRequired[WrappedKey]
    version: NotRequired[int]
    patient_id: NotRequired[str]
    sealed_for: NotRequired[str]
    custodian: NotRequired[str]
    locator: NotRequired[str]
    ciphertext_sha256: NotRequired[str]


class AccessKeys(TypedDict):
    access_tx_id: str
    purpose: str
    keys: dict[str, AccessKey]  # by record id


class AuditEvent(TypedDict):
    """One decision of one access transaction, as every audit view lists it."""

    tx_id: str
    time: str
    requester: str
    requester_org: str
    requester_role: str
    purpose: str
    emergency: bool
    n: int  # the decision's place in its transaction
    record_id: str
    patient_id: str
    custodian: str
    decision: Literal["allowed", "denied"]
    reason: str
    version: NotRequired[int]  # the version and ciphertext an allowed decision opened
    ciphertext_sha256: NotRequired[str]
    justification_sha256: NotRequired[str]  # break-glass: the salted digest of the private justification
    justification_length: NotRequired[int]


class Verdict(TypedDict):
    """VerifyAccess: may the custodian's store release the record's current ciphertext now?"""

    granted: bool
    reason: str
    code: NotRequired[str]  # UNKNOWN_ACCESS: the access transaction has not committed (yet)
    requester_org: NotRequired[str]  # the rest when granted
    purpose: NotRequired[str]
    emergency: NotRequired[bool]
    time: NotRequired[str]
    open_until: NotRequired[str]
    consent_valid_until: NotRequired[str]
    version: NotRequired[int]
    ciphertext_sha256: NotRequired[str]


class Verdicts(TypedDict):
    access_tx_id: str
    verdicts: dict[str, Verdict]  # by record id


class Justification(TypedDict):
    access_tx_id: str
    justification: str
    salt: str


class Model(TypedDict):
    """A model version in the registry, with what it was trained on and how well it does."""

    model_id: str
    version: str
    artifact_sha256: str
    format: str
    training_data_fingerprint: str
    feature_schema: list[dict[str, Any]]
    parameters: dict[str, Any]
    metrics: dict[str, float]
    subgroup_metrics: dict[str, dict[str, float]]
    code_ref: str
    libraries: dict[str, str]
    trained_at: str
    task: Literal["classification", "regression"]
    description: str
    status: Literal["registered", "approved", "retired"]
    registered_by: str
    registered_org: str
    registered_at: str
    approved_by: NotRequired[str]
    approved_at: NotRequired[str]
    retired_by: NotRequired[str]
    retired_at: NotRequired[str]
    retired_reason: NotRequired[str]


class Inference(TypedDict):
    """One model output on one record version, bound to the access that released the record."""

    record_id: str
    ciphertext_sha256: str
    input_sha256: str
    explanation_sha256: str
    output_sha256: str  # salted; the output itself is private data
    tx_id: str
    n: int
    time: str
    model_id: str
    version: str
    artifact_sha256: str
    access_tx_id: str
    requester: str
    requester_org: str
    patient_id: str
    custodian: str
    output: NotRequired[dict[str, Any] | None]  # in listings, for those who may read it and whose peer holds it


class InferencesRecorded(TypedDict):
    tx_id: str
    count: int


class HistoryEntry(TypedDict):
    """One committed value of a key, newest first."""

    tx_id: str
    time: str
    deleted: bool
    value: dict[str, Any] | None
