"""The documents of members, records, consent, access and audit (careledger_protocol.documents re-exports them).

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


class CompromisedKey(TypedDict):
    """A key of a member that was lost or left (ReportKeyCompromised, OpenKeyRecovery): never wrapped for again."""

    kid: str  # the key's RFC 7638 thumbprint
    since: str
    by: str  # who reported it: the member, or its organization's admin
    reason: str  # careledger_protocol.COMPROMISE_REASONS, or "recovery"


class Member(TypedDict):
    id: str
    org: str
    role: str  # a person's role, or "organization" for an organization's key
    public_key: PublicJwk
    updated_at: str
    updated_by: NotRequired[str]  # absent on members not changed since layout 1 (before it was kept)
    compromised_keys: NotRequired[list[CompromisedKey]]  # absent: none ever was


class CustodyEntry(TypedDict):
    """A record whose ciphertext a hospital's store keeps, as its scrub needs it: no patient, no content."""

    record_id: str
    version: int
    status: Literal["active", "erased"]
    ciphertext_sha256: NotRequired[str]  # the current version's; absent once erased


class CustodianRewrap(TypedDict):
    """One custodian's share of a key recovery: entries of its records to re-wrap, and those it did."""

    to_rewrap: int
    rewrapped: int


class KeyRecovery(TypedDict):
    """A member's key recovery: opened by its organization's admin after identity proofing, pinned to the new
    enrollment's certificate; the member registers the new key from it; the custodians re-wrap."""

    member_id: str
    org: str
    status: Literal["awaiting-key", "rewrapping", "completed"]
    opened_by: str
    opened_at: str
    open_tx_id: str
    proofing: str  # careledger_protocol.PROOFING_METHODS
    certificate_sha256: str  # SHA-256 of the new enrollment's certificate (DER): the only one that registers the key
    compromised_kid: str  # the key it replaces, marked compromised when opened
    new_kid: NotRequired[str]  # the rest once the new key is registered
    key_registered_at: NotRequired[str]
    custodians: NotRequired[dict[str, CustodianRewrap]]  # by custodian MSP
    completed_at: NotRequired[str]


class CustodianKey(TypedDict):
    """The fields a custodian's system needs to re-wrap its organization's key of one record for someone else
    (an emergency's requester, a member's recovered key)."""

    record_id: str
    version: int
    patient_id: str
    sealed_for: str
    recipient: str  # org:<custodian MSP>
    wrapped_key: WrappedKey


class RecoveryKeyToRewrap(CustodianKey):
    """For a custodian's system: its organization's wrapped key of one record, to re-wrap for the new key."""


class RecoverySettledRecord(TypedDict):
    """A record on a custodian's recovery list that needs no re-wrap any more (erased since, the member's key entry
    gone, or wrapped for the new key already): name it in RewrapRecoveredKeys without a key to clear it."""

    record_id: str
    version: int  # the record's current version (an erased record keeps its last); 1 if there is no record


class RecoveryKeysToRewrap(TypedDict):
    member_id: str
    custodian: str
    public_key: PublicJwk  # the member's new key
    keys: list[RecoveryKeyToRewrap]  # ask again after re-wrapping them
    settled: list[RecoverySettledRecord]  # of the same batch (keys and settled: at most 500), nothing to re-wrap
    remaining: int  # records on this custodian's list, these keys and settled included


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
    granted_by: NotRequired[str]  # the proxy who granted for the patient (absent: the patient did)
    revoked_by: NotRequired[str]  # the proxy who revoked for the patient (absent: the patient did)


class Proxy(TypedDict):
    """A proxy relation: `proxy_id` may act for `patient_id` with `rights` (careledger_protocol.PROXY_RIGHTS)
    from valid_from until valid_until, unless revoked."""

    id: str
    patient_id: str
    proxy_id: str
    proxy_org: str
    rights: list[str]
    valid_from: str
    valid_until: str
    status: Literal["active", "revoked"]
    created_at: str
    created_by: str  # the patient, or the admin of the patient's hospital
    keyed_records: list[str]  # the patient's records whose key the proxy holds (view right)
    revoked_at: NotRequired[str]
    revoked_by: NotRequired[str]


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
    consent_id: NotRequired[str]  # the grant that allowed it, when one did (read from its access transaction)
    on_behalf_of: NotRequired[str]  # the patient a proxy (the requester) acted for


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


class ConsentRequest(TypedDict):
    """A clinician's or researcher's request to a patient for access. The message and a decline's reason are
    private data; the public entry holds their salted SHA-256 and length."""

    id: str
    patient_id: str
    requester: str
    requester_org: str
    requester_role: str
    record_ids: list[str]
    categories: list[str]
    purposes: list[str]
    valid_until: str  # the end of the access asked for
    status: Literal["pending", "approved", "declined", "expired"]  # expired: pending past expires_at
    created_at: str
    expires_at: str  # an unanswered request lapses then
    tx_id: str
    message_sha256: NotRequired[str]  # SHA-256 of the salt, a newline and the message
    message_length: NotRequired[int]
    answered_at: NotRequired[str]
    grant_id: NotRequired[str]  # approved: the grant that answered it
    reason_sha256: NotRequired[str]  # declined with a reason
    reason_length: NotRequired[int]
    # GetConsentRequest, for the patient, the requester and auditors; None when this peer holds none:
    message: NotRequired[str | None]
    reason: NotRequired[str | None]


class EmergencyReview(TypedDict):
    """The after-the-fact review of an emergency access; the note is private data (salted SHA-256 in public)."""

    access_tx_id: str
    reviewer: str
    reviewer_org: str
    reviewer_role: str
    verdict: Literal["justified", "unjustified"]
    time: str
    tx_id: str
    note_sha256: str
    note_length: int
    note: NotRequired[str | None]  # GetEmergencyReview, for those who may read it


class Emergency(TypedDict):
    """An emergency access as the review queue lists it."""

    access_tx_id: str
    time: str
    open_until: str  # keys and ciphertexts are released until then
    requester: str
    requester_org: str
    patient_ids: list[str]
    record_ids: list[str]  # the records it opened (allowed)
    custodians: list[str]
    justification_sha256: str
    justification_length: int
    awaiting_release: list[str]  # records whose custodian has not released the key to the requester yet
    released: list[str]
    reviewed: bool
    review: NotRequired[EmergencyReview]


class EmergencyKeyToRelease(CustodianKey):
    """For the custodian's system: its organization's wrapped key of a record an emergency opened, and the
    requester's public key to re-wrap it for."""

    requester: str
    requester_key: PublicJwk


class EmergencyKeysToRelease(TypedDict):
    access_tx_id: str
    requester: str
    open_until: str
    keys: list[EmergencyKeyToRelease]


class EmergencyRelease(TypedDict):
    """ReleaseEmergencyKeys: the records whose key the custodian re-wrapped for the requester."""

    access_tx_id: str
    requester: str
    released: list[str]
    released_by: str
    time: str


class Consortium(TypedDict):
    """The consortium's settings the contract decides with (SetConsortium, GetConsortium)."""

    authority_msp: NotRequired[str]  # the MSP whose auditors are the health authority; absent until set


class Migration(TypedDict):
    """Migrate: how far the ledger's layout has come (call again until done)."""

    done: bool
    version: int  # the layout version the ledger has reached
    moved: int  # the keys this call moved
    kind: NotRequired[str]  # the kind of key it stopped at (absent when there was nothing left to do)


class HistoryEntry(TypedDict):
    """One committed value of a key, newest first."""

    tx_id: str
    time: str
    deleted: bool
    value: dict[str, Any] | None
