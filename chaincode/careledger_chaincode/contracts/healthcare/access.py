"""Access: decisions per record (allowed, or denied and why), each an audit event; emergency access;
verification of an access transaction; the audit views.

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
import json
from dataclasses import dataclass
from typing import Any

from ...runtime import INVALID_ARGUMENT, ChaincodeError, Context, transaction
from ._common import (
    MAX_BATCH,
    PURPOSES,
    Caller,
    Shape,
    caller,
    denied,
    enum,
    event,
    get_json,
    json_object,
    key,
    key_history,
    load,
    member_id,
    not_found,
    now,
    page,
    page_args,
    put_json,
    require_role,
    text,
    tx_id,
)
from .members import get_member, is_self, member_key, require_registered_caller
from .records import (
    RECORD,
    can_view_record,
    entry_allows,
    is_custodian_staff,
    require_record,
    why_not,
    wkey_key,
)

ACCESS = "access"
# Named apart from the 3-keys-per-decision layout of earlier versions ("audit", "audit-p", "audit-r"), whose
# entries stay on old ledgers and are not shown by these views.
AUDIT_BY_PATIENT = "audit-patient"
AUDIT_BY_REQUESTER = "audit-requester"
AUDIT_BY_TIME = "audit-time"
PURPOSE_ROLES = {"treatment": ("clinician",), "diagnosis-ai": ("clinician",), "research": ("researcher",)}
_EVENT_FIELDS = ("tx_id", "time", "requester", "requester_org", "requester_role", "purpose", "emergency")
_JUSTIFICATION_FIELDS = ("justification_sha256", "justification_length")


@dataclass(frozen=True)
class _Decision:
    allowed: bool
    reason: str
    wrapped: dict[str, Any] | None = None
    grant_id: str | None = None  # the consent that allowed it, if one did


def _decide(
    who: Caller,
    record: dict[str, Any] | None,
    entries: list[dict[str, Any] | None],
    purpose: str,
    at: str,
    patient_is_caller: bool,
) -> _Decision:
    """The decision on one record, from the record and the caller's two key entries."""
    if record is None:
        return _Decision(False, "no such record")
    if record["status"] == "erased":
        return _Decision(False, f"the record was erased on {record['erased_at']}")
    own, org = entries
    if patient_is_caller:
        return _Decision(True, "the patient's own record", own["jwe"] if own else None)
    if who.role not in PURPOSE_ROLES[purpose]:
        return _Decision(False, f"the purpose {purpose} needs role {' or '.join(PURPOSE_ROLES[purpose])}")
    for entry in (own, org):
        grant_id = entry_allows(entry, purpose, at)
        if grant_id and entry:
            return _Decision(True, f"consent {grant_id}", entry["jwe"], grant_id)
    return _Decision(False, why_not([own, org], purpose, at))


def _emergency_key(pair: list[dict[str, Any] | None]) -> dict[str, Any] | None:
    """The caller's own wrapped key, else its org's (the custodian's, when it is the custodian), else none:
    a clinician of another organization gets the ciphertext's location and asks the custodian to release
    the key, which the custodian checks with VerifyAccess."""
    for entry in pair:
        if entry is not None:
            return dict(entry["jwe"])
    return None


def audit_event(access: dict[str, Any], n: int, decision: dict[str, Any]) -> dict[str, Any]:
    """The audit event of decision `n` of an access transaction (the shape every audit view returns)."""
    event_ = {k: access[k] for k in _EVENT_FIELDS}
    event_.update((k, access[k]) for k in _JUSTIFICATION_FIELDS if k in access)
    return {**event_, "n": n, **decision}


def _resume_at(bookmark: str, prefix: str) -> tuple[str, int]:
    """(index key to start at, events of that transaction already returned) from a bookmark we issued."""
    try:
        start, skip = json.loads(bookmark)
    except (ValueError, TypeError):
        start, skip = None, None
    if not (isinstance(start, str) and start.startswith(prefix) and isinstance(skip, int) and 0 <= skip < MAX_BATCH):
        raise ChaincodeError(INVALID_ARGUMENT, "bookmark is not from this view: pass back the previous page's bookmark")
    return start, skip


def _events_by_transaction(ctx: Context, index: str, parts: list[str], page_size: str, bookmark: str) -> dict[str, Any]:
    """A page of audit events from a per-transaction index whose values are decision counts.

    Only the transactions that the page shows are read; the bookmark names the index key to resume at
    and how many of its events were already shown (a page can end inside a 500-record transaction)."""
    size, mark = page_args(page_size, bookmark)
    prefix = key(ctx, index, *parts)
    start, skip = _resume_at(mark, prefix) if mark else (prefix, 0)
    wanted, seen, rows, resume = skip + size, 0, [], ""
    scan = ctx.stub.get_state_by_partial_composite_key(index, parts, start_key=start)
    try:
        for index_key, count in scan:
            if seen >= wanted:
                resume = index_key
                break
            rows.append((index_key, int(count)))
            seen += int(count)
    finally:
        scan.close()
    txids = [ctx.stub.split_composite_key(k)[1][-1] for k, _ in rows]
    accesses = [load(raw) for raw in ctx.stub.get_states([key(ctx, ACCESS, t) for t in txids]) if raw]
    events = [audit_event(a, n, d) for a in accesses for n, d in enumerate(a["decisions"])]
    if seen > wanted:  # the page ends inside the last transaction
        last_key, last_count = rows[-1]
        next_mark = json.dumps([last_key, last_count - (seen - wanted)])
    else:
        next_mark = json.dumps([resume, 0]) if resume else ""
    return {"items": events[skip:wanted], "bookmark": next_mark}


class AccessMixin:
    @transaction("RequestAccess")
    def request_access(self, ctx: Context, request_json: str) -> dict[str, Any]:
        """Decide, record and answer access to up to 500 records for one purpose.

        The answer holds decisions only: the wrapped keys come from GetAccessKeys once this transaction
        has committed, so no key leaves the ledger without its audit events (an evaluate or an endorsed
        but unsubmitted RequestAccess yields none)."""
        who = caller(ctx)
        shape = Shape(json_object(request_json, "request"), "request", ("record_ids", "purpose"))
        record_ids = shape.items("record_ids", member_id, MAX_BATCH, min_items=1)
        purpose = shape.string("purpose", enum(PURPOSES))
        return self._record_decisions(ctx, who, record_ids, purpose, justification=None)

    @transaction("EmergencyAccess")
    def emergency_access(self, ctx: Context, request_json: str) -> dict[str, Any]:
        """Break-glass: a clinician opens records without consent, with a written justification.

        Only the justification's SHA-256 and length go on the ledger (the text may name the patient);
        the requesting hospital keeps the text in its own audit log.
        """
        who = caller(ctx)
        require_role(who, "clinician")
        shape = Shape(json_object(request_json, "request"), "request", ("record_ids", "justification"))
        record_ids = shape.items("record_ids", member_id, MAX_BATCH, min_items=1)
        justification = shape.string("justification", text(2000, min_len=20))
        return self._record_decisions(ctx, who, record_ids, "treatment", justification=justification)

    def _record_decisions(
        self, ctx: Context, who: Caller, record_ids: list[str], purpose: str, justification: str | None
    ) -> dict[str, Any]:
        # Everything a decision reads, in one round trip: the caller's member entry, the records and the
        # caller's and its organization's key entries.
        entry_keys = [
            k for r in record_ids for k in (wkey_key(ctx, r, who.member_id), wkey_key(ctx, r, who.org_member))
        ]
        raw = ctx.stub.get_states(
            [member_key(ctx, who.member_id), *(key(ctx, RECORD, r) for r in record_ids), *entry_keys]
        )
        require_registered_caller(ctx, who)  # answered from what was just read
        records = [load(r) if r else None for r in raw[1 : 1 + len(record_ids)]]
        entries = [load(e) if e else None for e in raw[1 + len(record_ids) :]]
        at, txid = now(ctx), ctx.stub.tx_id
        emergency = justification is not None
        caller_is_patient = who.role == "patient"
        access: dict[str, Any] = {
            "tx_id": txid,
            "time": at,
            "requester": who.member_id,
            "requester_org": who.msp_id,
            "requester_role": who.role,
            "purpose": purpose,
            "emergency": emergency,
        }
        if justification is not None:
            access["justification_sha256"] = hashlib.sha256(justification.encode()).hexdigest()
            access["justification_length"] = len(justification)
        decisions, logged, allowed_ids = [], [], []
        consents: dict[str, str] = {}
        for n, (rid, record) in enumerate(zip(record_ids, records, strict=True)):
            pair = entries[2 * n : 2 * n + 2]
            own_record = caller_is_patient and record is not None and record["patient_id"] == who.member_id
            if emergency and record is not None and record["status"] == "active":
                decided = _Decision(True, "emergency access", _emergency_key(pair))
            else:
                decided = _decide(who, record, pair, purpose, at, own_record)
            ok, reason, wrapped = decided.allowed, decided.reason, decided.wrapped
            if ok:
                allowed_ids.append(rid)
            if decided.grant_id:
                consents[rid] = decided.grant_id
            entry = {
                "record_id": rid,
                "patient_id": record["patient_id"] if record else "",
                "custodian": record["custodian"] if record else "",
                "decision": "allowed" if ok else "denied",
                "reason": reason,
            }
            logged.append(entry)
            if entry["patient_id"]:
                put_json(
                    ctx, audit_event(access, n, entry), AUDIT_BY_PATIENT, entry["patient_id"], at, txid, f"{n:04d}"
                )
            decision: dict[str, Any] = {"record_id": rid, "decision": entry["decision"], "reason": reason}
            if ok and record is not None:
                decision.update(custodian=record["custodian"], key_available=wrapped is not None)
            decisions.append(decision)
        put_json(ctx, {**access, "allowed": allowed_ids, "decisions": logged, "consents": consents}, ACCESS, txid)
        count = str(len(logged)).encode()
        ctx.stub.put_state(key(ctx, AUDIT_BY_REQUESTER, who.member_id, at, txid), count)
        ctx.stub.put_state(key(ctx, AUDIT_BY_TIME, at, txid), count)
        summary = {k: access[k] for k in ("tx_id", "time", "requester", "requester_org", "purpose", "emergency")}
        event(ctx, "AccessRequested", {**summary, "decisions": logged})
        return {"tx_id": txid, "time": at, "purpose": purpose, "emergency": emergency, "decisions": decisions}

    @transaction("GetAccessKeys", read_only=True)
    def get_access_keys(self, ctx: Context, access_tx_id: str) -> dict[str, Any]:
        """The caller's wrapped keys for the records its committed access transaction allowed.

        Consent is checked again now: a key is not handed out once the consent has been revoked or expired.
        """
        who = caller(ctx)
        access = get_json(ctx, ACCESS, tx_id(access_tx_id, "access_tx_id"))
        if access is None:
            raise not_found("no committed access transaction with that id (has it committed yet?)")
        if access["requester"] != who.member_id or access["requester_org"] != who.msp_id:
            raise denied("that access transaction was made by someone else")
        allowed = access["allowed"]
        records = [load(r) if r else None for r in ctx.stub.get_states([key(ctx, RECORD, r) for r in allowed])]
        pairs = ctx.stub.get_states(
            [k for r in allowed for k in (wkey_key(ctx, r, who.member_id), wkey_key(ctx, r, who.org_member))]
        )
        entries = [load(e) if e else None for e in pairs]
        at = now(ctx)
        keys: dict[str, Any] = {}
        for n, (rid, record) in enumerate(zip(allowed, records, strict=True)):
            pair = entries[2 * n : 2 * n + 2]
            if record is None or record["status"] != "active":
                keys[rid] = {"available": False, "reason": "the record was erased"}
                continue
            if access["emergency"]:
                entry = next((e for e in pair if e is not None), None)
            elif who.role == "patient" and record["patient_id"] == who.member_id:
                entry = pair[0]
            else:
                entry = next((e for e in pair if entry_allows(e, access["purpose"], at)), None)
            if entry is None:
                reason = "no key for you: ask the custodian" if access["emergency"] else "consent no longer active"
                keys[rid] = {"available": False, "reason": reason}
                continue
            keys[rid] = {
                "available": True,
                "recipient": entry["recipient"],
                "wrapped_key": entry["jwe"],
                "version": record["version"],
                "patient_id": record["patient_id"],
                "custodian": record["custodian"],
                "locator": record["locator"],
                "ciphertext_sha256": record["ciphertext_sha256"],
            }
        return {"access_tx_id": access["tx_id"], "purpose": access["purpose"], "keys": keys}

    @transaction("VerifyAccess", read_only=True)
    def verify_access(self, ctx: Context, access_tx_id: str, requester_id: str, record_id: str) -> dict[str, Any]:
        """Did the committed transaction `access_tx_id` grant `requester_id` the record? (for record stores)"""
        who = caller(ctx)
        txid = tx_id(access_tx_id, "access_tx_id")
        member_id(requester_id, "requester_id")
        record = require_record(ctx, member_id(record_id, "record_id"))
        requester = get_member(ctx, requester_id)
        is_requester = requester is not None and is_self(who, requester)
        if not (who.is_authority_auditor or is_custodian_staff(who, record) or is_requester):
            raise denied("only the record's custodian, the requester and auditors may verify an access")
        access = get_json(ctx, ACCESS, txid)
        if access is None:
            return {"granted": False, "reason": "no committed access transaction with this id"}
        if access["requester"] != requester_id:
            return {"granted": False, "reason": "that transaction was made by another requester"}
        if record_id not in access["allowed"]:
            return {"granted": False, "reason": "that transaction did not grant this record"}
        if record["status"] == "erased":
            return {"granted": False, "reason": "the record has been erased since"}
        return {
            "granted": True,
            "reason": "granted",
            "requester_org": access["requester_org"],
            "purpose": access["purpose"],
            "emergency": access["emergency"],
            "time": access["time"],
            "ciphertext_sha256": record["ciphertext_sha256"],
        }

    @transaction("VerifyAccessBatch", read_only=True)
    def verify_access_batch(
        self, ctx: Context, access_tx_id: str, requester_id: str, record_ids_json: str
    ) -> dict[str, Any]:
        """VerifyAccess for many records of one access transaction (a store releasing a batch asks once).

        Only the custodian's staff and auditors may ask; records of other custodians are reported as such."""
        who = caller(ctx)
        txid = tx_id(access_tx_id, "access_tx_id")
        member_id(requester_id, "requester_id")
        try:
            record_ids = json.loads(record_ids_json)
        except ValueError:
            raise ChaincodeError(INVALID_ARGUMENT, "record_ids must be a JSON list of record ids") from None
        if not isinstance(record_ids, list) or not 1 <= len(record_ids) <= MAX_BATCH:
            raise ChaincodeError(INVALID_ARGUMENT, f"record_ids must list 1 to {MAX_BATCH} records")
        ids = [member_id(r, "record_id") for r in record_ids]
        access = get_json(ctx, ACCESS, txid)
        records = [load(r) if r else None for r in ctx.stub.get_states([key(ctx, RECORD, r) for r in ids])]
        verdicts: dict[str, Any] = {}
        for rid, record in zip(ids, records, strict=True):
            if record is None:
                verdicts[rid] = {"granted": False, "reason": "no such record"}
            elif not (who.is_authority_auditor or is_custodian_staff(who, record)):
                verdicts[rid] = {"granted": False, "reason": "you are not this record's custodian"}
            elif access is None:
                verdicts[rid] = {"granted": False, "reason": "no committed access transaction with this id"}
            elif access["requester"] != requester_id:
                verdicts[rid] = {"granted": False, "reason": "that transaction was made by another requester"}
            elif rid not in access["allowed"]:
                verdicts[rid] = {"granted": False, "reason": "that transaction did not grant this record"}
            elif record["status"] == "erased":
                verdicts[rid] = {"granted": False, "reason": "the record has been erased since"}
            else:
                verdicts[rid] = {"granted": True, "reason": "granted", "ciphertext_sha256": record["ciphertext_sha256"]}
        return {"access_tx_id": txid, "verdicts": verdicts}

    # -- audit views ----------------------------------------------------------------------------------------------
    @transaction("ListAccessByPatient", read_only=True)
    def list_access_by_patient(self, ctx: Context, patient_id: str, page_size: str, bookmark: str) -> dict[str, Any]:
        """The patient and auditors see every event; a custodian's staff see the events on its records."""
        who = caller(ctx)
        patient = get_member(ctx, member_id(patient_id, "patient_id"))
        if patient is None:
            raise not_found(f"patient {patient_id} is not registered")
        if who.is_authority_auditor or is_self(who, patient):
            return self._patient_page(ctx, patient_id, page_size, bookmark)
        if who.role in ("clinician", "admin", "auditor"):
            result = self._patient_page(ctx, patient_id, page_size, bookmark)
            result["items"] = [e for e in result["items"] if e["custodian"] == who.msp_id]
            return result
        raise denied("only the patient, the custodian's staff and auditors may read a patient's access log")

    @transaction("ListAccessByRequester", read_only=True)
    def list_access_by_requester(
        self, ctx: Context, requester_id: str, page_size: str, bookmark: str
    ) -> dict[str, Any]:
        who = caller(ctx)
        requester = get_member(ctx, member_id(requester_id, "requester_id"))
        own = requester is not None and is_self(who, requester)
        org_admin = requester is not None and who.role == "admin" and requester["org"] == who.msp_id
        if not (own or org_admin or who.is_authority_auditor):
            raise denied("only the requester, its organization's admin and auditors may read its access log")
        return _events_by_transaction(ctx, AUDIT_BY_REQUESTER, [requester_id], page_size, bookmark)

    @transaction("ListAllAccess", read_only=True)
    def list_all_access(self, ctx: Context, page_size: str, bookmark: str) -> dict[str, Any]:
        who = caller(ctx)
        if not who.is_authority_auditor:
            raise denied("only auditors of the health authority may read the whole access log")
        return _events_by_transaction(ctx, AUDIT_BY_TIME, [], page_size, bookmark)

    @staticmethod
    def _patient_page(ctx: Context, patient_id: str, page_size: str, bookmark: str) -> dict[str, Any]:
        return page(ctx, AUDIT_BY_PATIENT, [patient_id], page_size, bookmark)

    @transaction("GetRecordHistory", read_only=True)
    def get_record_history(self, ctx: Context, record_id: str) -> list[dict[str, Any]]:
        who = caller(ctx)
        record = require_record(ctx, member_id(record_id, "record_id"))
        if not can_view_record(ctx, who, record):
            raise denied(f"{who.member_id} may not see the history of record {record_id}")
        return key_history(ctx, RECORD, record_id)
