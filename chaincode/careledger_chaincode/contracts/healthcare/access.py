"""Access: decisions per record (allowed, or denied and why), each an audit event; emergency access; the keys
an access releases. (Stores verify an access in verification.py; the audit views are in audit.py.)

Storage, chosen so that a decision costs one written key (each key costs the peers a write, a
history entry and a metadata lookup at validation, which bound throughput):
- ("access", tx): the access transaction: who, when, for what, and every decision;
- ("audit-patient", patient, time, tx, n): the audit event of one decision on a patient's record;
- ("audit-requester", requester, time, tx) and ("audit-time", time, tx): one entry per access transaction
  holding its decision count, so the requester's and the whole log page by event without reading
  whole transactions they skip.
"""

from __future__ import annotations

import hashlib
from typing import Any

from careledger_protocol import (
    FAILED_PRECONDITION,
    INVALID_ARGUMENT,
    NOT_AUTHORIZED,
    NOT_FOUND,
    PURPOSES,
    Event,
    ProxyRight,
    Purpose,
    documents,
)

from ...runtime import Context, transaction
from . import _schemas as schema
from ._arguments import MAX_BATCH, Shape, enum, json_object, object_id, refuse_in_arguments, tx_id
from ._caller import Caller, caller, member_id, require_role
from ._compromised import release_refusal as key_release_refusal
from ._emergency_index import index_emergency
from ._key_entries import caller_entries
from ._proxy import acts_for, may_act_for
from ._refusals import denied, invalid, not_found
from ._state import event, get_json, get_private, key, load, put_json, put_private
from ._time import now, window_end
from .members import get_member, member_key, require_registered_caller
from .policy import (
    decide,
    key_to_release,
    release_refusal,
    valid_justification,
)
from .records import RECORD

ACCESS = "access"
# Named apart from the 3-keys-per-decision layout of earlier versions ("audit", "audit-p", "audit-r"), whose
# entries stay on old ledgers and are not shown by these views.
AUDIT_BY_PATIENT = "audit-patient"  # (patient, time, tx_id, n) -> ONE_DECISION: decision n of that transaction
ONE_DECISION = b"1"  # how many decisions a per-patient key stands for (the requester's and time keys hold counts)
AUDIT_BY_REQUESTER = "audit-requester"
AUDIT_BY_TIME = "audit-time"
JUSTIFICATION = "justification"  # private: the text of a break-glass justification, under its access tx
MAX_JUSTIFICATION = 2000
_EVENT_FIELDS = ("tx_id", "time", "requester", "requester_org", "requester_role", "purpose", "emergency")
_JUSTIFICATION_FIELDS = ("justification_sha256", "justification_length")
_OPTIONAL_EVENT_FIELDS = (*_JUSTIFICATION_FIELDS, "on_behalf_of")
EMERGENCY_REQUEST = schema.object_of({"record_ids": schema.list_of(schema.ID, MAX_BATCH, min_items=1)})
# on_behalf_of: the patient whose proxy the caller is (checked against the proxy relation, _proxy.acts_for)
ACCESS_REQUEST = schema.object_of(
    {**EMERGENCY_REQUEST["properties"], "purpose": schema.one_of(PURPOSES)}, {"on_behalf_of": schema.MEMBER}
)


def salted_sha256(salt: str, text: str) -> str:
    """The public commitment to a private text: salted, so that a short, guessable text cannot be found
    by hashing candidates (the salt is private with the text)."""
    return hashlib.sha256(f"{salt}\n{text}".encode()).hexdigest()


def transient_salt(ctx: Context) -> str:
    """The random salt sent beside private text or outputs (the transient field 'salt'), kept private with
    them: what makes their public SHA-256 unguessable (salted_sha256)."""
    salt = ctx.stub.transient.get("salt", b"").decode("ascii", errors="replace")
    if len(salt) < 32:
        raise invalid("send a random salt of at least 32 characters as the transient field 'salt'")
    return salt


def transient_reason(ctx: Context, name: str) -> str:
    """A text that must say why (a break-glass justification, a review's reason or note), from the transient
    field `name`: UTF-8, at least 20 letters, at most MAX_JUSTIFICATION characters."""
    raw = ctx.stub.transient.get(name)
    if raw is None:
        raise invalid(f"send the {name} as the transient field '{name}' (it never goes in the block)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise invalid(f"the {name} must be UTF-8 text") from None
    if len(text) > MAX_JUSTIFICATION or not valid_justification(text):
        raise invalid(f"the {name} must say why, in at least 20 letters (at most {MAX_JUSTIFICATION} characters)")
    return text


def _justification(ctx: Context) -> tuple[str, str]:
    """(text, salt) of a break-glass justification, from the transient fields 'justification' and 'salt'."""
    return transient_reason(ctx, "justification"), transient_salt(ctx)


def audit_event(access: dict[str, Any], n: int, decision: dict[str, Any]) -> dict[str, Any]:
    """The audit event of decision `n` of an access transaction (the shape every audit view returns)."""
    event_ = {k: access[k] for k in _EVENT_FIELDS}
    event_.update((k, access[k]) for k in _OPTIONAL_EVENT_FIELDS if k in access)
    return {**event_, "n": n, **decision}


def available_key(entry: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    """A released key (documents.AccessKey): the key wrapped for the requester and what the client needs to
    fetch the ciphertext and check it (this version, its hash, where it is, whom it is sealed for)."""
    return {
        "available": True,
        "recipient": entry["recipient"],
        "wrapped_key": entry["jwe"],
        "version": record["version"],
        "patient_id": record["patient_id"],
        "sealed_for": record.get("sealed_for", record["patient_id"]),
        "custodian": record["custodian"],
        "locator": record["locator"],
        "ciphertext_sha256": record["ciphertext_sha256"],
    }


class AccessMixin:
    @transaction(
        "RequestAccess",
        arguments={"request_json": ACCESS_REQUEST},
        returns=documents.AccessResult,
        events=(Event.ACCESS_REQUESTED,),
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, FAILED_PRECONDITION),
    )
    def request_access(self, ctx: Context, request_json: str) -> dict[str, Any]:
        """Decide, record and answer access to up to 500 records for one purpose.

        The answer holds decisions only: the wrapped keys come from GetAccessKeys once this transaction
        has committed, so no key leaves the ledger without its audit events (an evaluate or an endorsed
        but unsubmitted RequestAccess yields none)."""
        who = caller(ctx)
        shape = Shape(json_object(request_json, "request"), "request", *schema.fields(ACCESS_REQUEST))
        record_ids = shape.items("record_ids", object_id, MAX_BATCH, min_items=1)
        purpose = shape.string("purpose", enum(PURPOSES))
        for_patient = None
        if "on_behalf_of" in shape.doc:
            acting = acts_for(ctx, who, shape.string("on_behalf_of", member_id), ProxyRight.VIEW)
            for_patient = acting.patient_id if acting.by_proxy else None
        return self._record_decisions(ctx, who, record_ids, purpose, justification=None, for_patient=for_patient)

    @transaction(
        "EmergencyAccess",
        arguments={"request_json": EMERGENCY_REQUEST},
        returns=documents.AccessResult,
        events=(Event.ACCESS_REQUESTED,),
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, FAILED_PRECONDITION),
    )
    def emergency_access(self, ctx: Context, request_json: str) -> dict[str, Any]:
        """Break-glass: a clinician opens records without consent, with a written justification.

        The justification travels as transient data and is kept as private data, readable by the
        requester, the patients concerned and auditors (GetJustification); the block and public state
        carry only its salted SHA-256 and length."""
        who = caller(ctx)
        require_role(who, "clinician")
        doc = json_object(request_json, "request")
        refuse_in_arguments(doc, "justification")
        shape = Shape(doc, "request", *schema.fields(EMERGENCY_REQUEST))
        record_ids = shape.items("record_ids", object_id, MAX_BATCH, min_items=1)
        return self._record_decisions(ctx, who, record_ids, Purpose.TREATMENT, justification=_justification(ctx))

    def _record_decisions(
        self,
        ctx: Context,
        who: Caller,
        record_ids: list[str],
        purpose: str,
        justification: tuple[str, str] | None,
        for_patient: str | None = None,
    ) -> dict[str, Any]:
        # Everything a decision reads, in one round trip per namespace: the caller's member entry and the
        # records (public), the caller's and its organization's key entries (private).
        raw = ctx.stub.get_states([member_key(ctx, who.member_id), *(key(ctx, RECORD, r) for r in record_ids)])
        require_registered_caller(ctx, who)  # answered from what was just read
        records = [load(r) if r else None for r in raw[1:]]
        pairs = caller_entries(ctx, who, record_ids)
        at, txid = now(ctx), ctx.stub.tx_id
        emergency = justification is not None
        access: dict[str, Any] = {
            "tx_id": txid,
            "time": at,
            "requester": who.member_id,
            "requester_org": who.msp_id,
            "requester_role": who.role,
            "purpose": purpose,
            "emergency": emergency,
        }
        if for_patient is not None:  # "by <requester> for <patient>" in every view of this access
            access["on_behalf_of"] = for_patient
        if justification is not None:
            text, salt = justification
            access["justification_sha256"] = salted_sha256(salt, text)
            access["justification_length"] = len(text)
            put_private(ctx, {"text": text, "salt": salt, "tx_id": txid}, JUSTIFICATION, txid)
        decisions, logged, allowed_ids = [], [], []
        consents: dict[str, str] = {}
        for n, (rid, record, (own, org)) in enumerate(zip(record_ids, records, pairs, strict=True)):
            decided = decide(who, record, own, org, purpose, at, emergency and record is not None, for_patient)
            if decided.allowed:
                allowed_ids.append(rid)
            if decided.grant_id:
                consents[rid] = decided.grant_id
            entry: dict[str, Any] = {
                "record_id": rid,
                "patient_id": record["patient_id"] if record else "",
                "custodian": record["custodian"] if record else "",
                "decision": "allowed" if decided.allowed else "denied",
                "reason": decided.reason,
            }
            if decided.allowed and record is not None:
                # The capability: exactly this version, whose ciphertext has this hash.
                entry.update(version=record["version"], ciphertext_sha256=record["ciphertext_sha256"])
            logged.append(entry)
            if entry["patient_id"]:  # the patient's view builds the event from this transaction's decision n
                ctx.stub.put_state(key(ctx, AUDIT_BY_PATIENT, entry["patient_id"], at, txid, f"{n:04d}"), ONE_DECISION)
            decision: dict[str, Any] = {"record_id": rid, "decision": entry["decision"], "reason": decided.reason}
            if decided.allowed and record is not None:
                decision.update(
                    custodian=record["custodian"],
                    version=record["version"],
                    key_available=decided.key_entry is not None,
                )
            decisions.append(decision)
        stored = {**access, "allowed": allowed_ids, "decisions": logged, "consents": consents}
        put_json(ctx, stored, ACCESS, txid)
        if emergency:
            index_emergency(ctx, stored, decisions)  # the review queue and the custodian's key release
        count = str(len(logged)).encode()
        ctx.stub.put_state(key(ctx, AUDIT_BY_REQUESTER, who.member_id, at, txid), count)
        ctx.stub.put_state(key(ctx, AUDIT_BY_TIME, at, txid), count)
        summary = {k: access[k] for k in ("tx_id", "time", "requester", "requester_org", "purpose", "emergency")}
        summary.update((k, access[k]) for k in ("on_behalf_of",) if k in access)
        event(ctx, Event.ACCESS_REQUESTED, {**summary, "decisions": logged})
        return {
            "tx_id": txid,
            "time": at,
            "open_until": window_end(at),
            "purpose": purpose,
            "emergency": emergency,
            "decisions": decisions,
        }

    def _require_own_access(self, ctx: Context, who: Caller, access_tx_id: str) -> dict[str, Any]:
        access = get_json(ctx, ACCESS, tx_id(access_tx_id, "access_tx_id"))
        if access is None:
            raise not_found("no committed access transaction with that id (has it committed yet?)")
        if access["requester"] != who.member_id:
            raise denied("that access transaction was made by someone else")
        return access

    @transaction(
        "GetAccessKeys",
        read_only=True,
        arguments={"access_tx_id": schema.TX_ID},
        returns=documents.AccessKeys,
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, NOT_FOUND, FAILED_PRECONDITION),
    )
    def get_access_keys(self, ctx: Context, access_tx_id: str) -> dict[str, Any]:
        """The caller's wrapped keys for the record versions its committed access transaction allowed,
        within the access window; consent is checked again now."""
        who = caller(ctx)
        access = self._require_own_access(ctx, who, access_tx_id)
        if "on_behalf_of" in access:  # a proxy's keys: only while the proxy still holds the view right
            acts_for(ctx, who, access["on_behalf_of"], ProxyRight.VIEW)
        allowed = access["allowed"]
        decided = {d["record_id"]: d for d in access["decisions"]}
        records = [load(r) if r else None for r in ctx.stub.get_states([key(ctx, RECORD, r) for r in allowed])]
        pairs = caller_entries(ctx, who, allowed)
        at, member = now(ctx), get_member(ctx, who.member_id)
        keys: dict[str, Any] = {}
        for rid, record, (own, org) in zip(allowed, records, pairs, strict=True):
            refusal = release_refusal(access, record, decided[rid], at)
            if refusal or record is None:
                keys[rid] = {"available": False, "reason": refusal}
                continue
            entry, reason = key_to_release(who, access, record, own, org, at)
            reason = key_release_refusal(member, entry) or reason  # still wrapped for a compromised key: not released
            keys[rid] = available_key(entry, record) if entry and not reason else {"available": False, "reason": reason}
        return {"access_tx_id": access["tx_id"], "purpose": access["purpose"], "keys": keys}

    @transaction(
        "GetJustification",
        read_only=True,
        arguments={"access_tx_id": schema.TX_ID},
        returns=documents.Justification,
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, NOT_FOUND, FAILED_PRECONDITION),
    )
    def get_justification(self, ctx: Context, access_tx_id: str) -> dict[str, Any]:
        """The text of a break-glass justification: for its requester, the patients whose records it
        opened, and auditors."""
        who = caller(ctx)
        access = get_json(ctx, ACCESS, tx_id(access_tx_id, "access_tx_id"))
        if access is None or not access["emergency"]:
            raise not_found("no committed emergency access with that id")
        patients = {d["patient_id"] for d in access["decisions"]}
        concerned = who.role == "patient" and who.member_id in patients
        concerned = concerned or any(may_act_for(ctx, who, p, ProxyRight.VIEW) for p in sorted(patients) if p)
        if not (who.is_authority_auditor or who.member_id == access["requester"] or concerned):
            raise denied(
                "only the requester, the patients concerned (or their proxies) and auditors may read a justification"
            )
        stored = get_private(ctx, JUSTIFICATION, access["tx_id"])
        if stored is None:
            raise not_found("the justification of this access is not held on this peer")
        return {"access_tx_id": access["tx_id"], "justification": stored["text"], "salt": stored["salt"]}
