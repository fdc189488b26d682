"""Who may open which record for which purpose: the one place the contract decides it.

Every function that decides access, releases a wrapped key, wraps a key for someone (a new record, a
new version, a key rotation) or lets a store release ciphertext asks this module, so an expired or
revoked grantee never receives a key again and a decision means the same everywhere.

Terms, as a grant and its copy in each key entry carry them: purposes, valid_from, valid_until.
A key entry (one per record and recipient) holds the record key wrapped for the recipient and why the
recipient holds it: roles ("patient", "custodian") and grants (grant id -> terms).
An access transaction opens exactly the record versions it decided on, within ACCESS_WINDOW.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from careledger_protocol import PURPOSE_ROLES, valid_justification

from ._caller import Caller
from ._time import window_end, within_window

Entry = dict[str, Any]
Record = dict[str, Any]
Access = dict[str, Any]

__all__ = ["valid_justification"]  # the protocol's rule, for the access contract


# -- consent terms ---------------------------------------------------------------------------------------
def grant_is_current(terms: dict[str, Any], at: str) -> bool:
    return bool(terms["valid_from"] <= at < terms["valid_until"])


def terms_allow(terms: dict[str, Any], purpose: str, at: str) -> bool:
    """Do a grant's terms (its own, or their copy in a key entry) allow `purpose` at `at`?"""
    return purpose in terms["purposes"] and grant_is_current(terms, at)


def entry_allows(entry: Entry | None, purpose: str, at: str) -> str | None:
    """The grant id that lets this entry's holder use the record for `purpose` at `at`, or None."""
    if entry is None:
        return None
    for grant_id, terms in sorted(entry["grants"].items()):
        if terms_allow(terms, purpose, at):
            return str(grant_id)
    return None


def why_not(entries: list[Entry | None], purpose: str, at: str) -> str:
    """Why no consent covers this use, in words for the requester."""
    terms = [t for e in entries if e for t in e["grants"].values()]
    if not terms:
        return "no consent from the patient covers this record"
    if not any(purpose in t["purposes"] for t in terms):
        return f"the patient's consent does not cover the purpose {purpose}"
    if any(at >= t["valid_until"] for t in terms if purpose in t["purposes"]):
        return "the patient's consent has expired"
    return "the patient's consent is not valid yet"


# -- who holds the current key ---------------------------------------------------------------------------
def current_entry(entry: Entry, at: str) -> Entry | None:
    """The entry with its expired grants dropped; None when nothing entitles the holder any more (no
    role, no grant that has not ended). Such a holder gets no key for a new version or rotation."""
    grants = {g: t for g, t in entry["grants"].items() if at < t["valid_until"]}
    if not entry["roles"] and not grants:
        return None
    return {**entry, "grants": grants}


def split_current(entries: dict[str, Entry], at: str) -> tuple[dict[str, Entry], list[str]]:
    """(recipients who keep the key, with expired grants dropped; recipients whose entitlement ended)."""
    kept, ended = {}, []
    for recipient, entry in sorted(entries.items()):
        current = current_entry(entry, at)
        if current is None:
            ended.append(recipient)
        else:
            kept[recipient] = current
    return kept, ended


# -- decisions -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    key_entry: Entry | None = None  # the entry whose wrapped key the requester will be given
    grant_id: str | None = None  # the consent that allowed it, if one did


def decide(
    who: Caller,
    record: Record | None,
    own: Entry | None,
    org: Entry | None,
    purpose: str,
    at: str,
    emergency: bool,
    for_patient: str | None = None,
) -> Decision:
    """The decision on one record, from the record and the caller's and its organization's key entries.
    `for_patient`: the patient whose proxy the caller is, with the view right (_proxy.acts_for checked it)."""
    if record is None:
        return Decision(False, "no such record")
    if record["status"] == "erased":
        return Decision(False, f"the record was erased on {record['erased_at']}")
    if who.role == "patient" and record["patient_id"] == who.member_id:
        return Decision(True, "the patient's own record", own)
    if for_patient is not None and record["patient_id"] == for_patient:
        return Decision(True, f"opened by {who.member_id} for {for_patient}, as their proxy", own)
    if emergency:
        # The caller's own key, else its organization's (the custodian's, at the custodian); another
        # organization's clinician gets none and asks the custodian, who checks the access on the ledger.
        return Decision(True, "emergency access", own or org)
    if who.role not in PURPOSE_ROLES[purpose]:
        return Decision(False, f"the purpose {purpose} needs role {' or '.join(PURPOSE_ROLES[purpose])}")
    for entry in (own, org):
        grant_id = entry_allows(entry, purpose, at)
        if grant_id and entry:
            return Decision(True, f"consent {grant_id}", entry, grant_id)
    return Decision(False, why_not([own, org], purpose, at))


def release_refusal(access: Access, record: Record | None, decided: dict[str, Any], at: str) -> str | None:
    """Why an allowed decision no longer releases anything (a key or a ciphertext), or None.

    An access transaction is a capability that ends: after ACCESS_WINDOW, once the record changed
    version, once it was erased."""
    if not within_window(access["time"], at):
        return f"this access ended at {window_end(access['time'])}: request access again"
    if record is None or record["status"] != "active":
        return "the record was erased"
    if decided.get("version") != record["version"]:
        return f"the record has a newer version ({record['version']}) than this access decided on: request access again"
    return None


def key_to_release(
    who: Caller, access: Access, record: Record, own: Entry | None, org: Entry | None, at: str
) -> tuple[Entry | None, str]:
    """The entry whose wrapped key GetAccessKeys may hand out for one allowed record, or why none."""
    if access["emergency"]:
        entry = own or org
        return entry, "" if entry else "no key for you: the custodian releases it to you after checking this access"
    if who.role == "patient" and record["patient_id"] == who.member_id:
        return own, "" if own else "no key for you on this record"
    if access.get("on_behalf_of") == record["patient_id"]:  # a proxy; its right was checked again by the caller
        return own, "" if own else "no key for you on this record: the patient has not shared it with you yet"
    entry = next((e for e in (own, org) if entry_allows(e, access["purpose"], at)), None)
    return entry, "" if entry else "consent no longer active"


def consent_still_allows(access: Access, record: Record, grant: dict[str, Any] | None, at: str) -> bool:
    """For a store releasing ciphertext: is the consent the decision rested on still active and current?"""
    if access["emergency"] or record["patient_id"] == access["requester"]:
        return True
    return bool(grant and grant["status"] == "active" and terms_allow(grant, access["purpose"], at))


# -- who may see what ------------------------------------------------------------------------------------
def is_custodian_staff(who: Caller, record: Record) -> bool:
    """A clinician or the admin of the organization holding the record."""
    return who.msp_id == record["custodian"] and who.role in ("clinician", "admin")


def may_see_metadata(who: Caller, record: Record, own: Entry | None, org: Entry | None, at: str) -> bool:
    """A record's metadata (not its content): the patient, auditors, the custodian's admin, the clinician
    who created it, and holders of a current grant. Other clinicians of the custodian see it only with
    consent: holding a patient's record does not tell the whole hospital what it is."""
    if who.is_authority_auditor or (who.role == "patient" and record["patient_id"] == who.member_id):
        return True
    if who.msp_id == record["custodian"] and (who.role == "admin" or record.get("created_by") == who.member_id):
        return True
    entries = [own] + ([org] if who.is_staff else [])
    return any(grant_is_current(t, at) for e in entries if e for t in e["grants"].values())
