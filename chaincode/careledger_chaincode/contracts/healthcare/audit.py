"""The audit views: a patient's, a requester's and the whole access log, and a record's history.

Access decisions are stored once, in their access transaction (access.py). The indexes only point at them:
one key per decision under the patient, and one per access transaction (holding its decision count) under the
requester and under the time, so the requester's and the whole log page by event without reading whole
transactions they skip. Every view builds its events from the transactions it shows (an event per record
once repeated the transaction's fields in state). Which grant allowed each record is kept once, in the access
transaction (`consents`); every view adds it to the events it returns as `consent_id`.
"""

from __future__ import annotations

import json
from typing import Any

from careledger_protocol import FAILED_PRECONDITION, INVALID_ARGUMENT, NOT_AUTHORIZED, NOT_FOUND, ProxyRight, documents

from ...runtime import ChaincodeError, Context, transaction
from . import _schemas as schema
from ._arguments import MAX_BATCH, object_id
from ._caller import caller, member_id
from ._paging import page_args
from ._proxy import may_act_for
from ._refusals import denied, not_found
from ._state import key, key_history, load
from .access import ACCESS, AUDIT_BY_PATIENT, AUDIT_BY_REQUESTER, AUDIT_BY_TIME, audit_event
from .members import get_member, is_self
from .records import RECORD, can_view_record, require_record


def _resume_at(bookmark: str, prefix: str) -> tuple[str, int]:
    """(index key to start at, events of that transaction already returned) from a bookmark we issued."""
    try:
        start, skip = json.loads(bookmark)
    except (ValueError, TypeError):
        start, skip = None, None
    if not (isinstance(start, str) and start.startswith(prefix) and isinstance(skip, int) and 0 <= skip < MAX_BATCH):
        raise ChaincodeError(INVALID_ARGUMENT, "bookmark is not from this view: pass back the previous page's bookmark")
    return start, skip


def with_consent(event: dict[str, Any], access: dict[str, Any]) -> dict[str, Any]:
    """The event with the grant that allowed its record (`consent_id`), as its access transaction recorded it
    (transactions recorded before `consents` existed name none)."""
    grant_id = access.get("consents", {}).get(event["record_id"]) if event["decision"] == "allowed" else None
    return {**event, "consent_id": grant_id} if grant_id else event


def _accesses(ctx: Context, txids: list[str]) -> dict[str, dict[str, Any]]:
    """The access transactions named (each once, in one round trip), in the order named."""
    raw = ctx.stub.get_states([key(ctx, ACCESS, t) for t in txids]) if txids else []
    return {t: load(r) for t, r in zip(txids, raw, strict=True) if r}


def _event(access: dict[str, Any], n: int) -> dict[str, Any]:
    """Decision `n` of an access transaction as every audit view returns it."""
    return with_consent(audit_event(access, n, access["decisions"][n]), access)


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
    events = [_event(a, n) for a in _accesses(ctx, txids).values() for n in range(len(a["decisions"]))]
    if seen > wanted:  # the page ends inside the last transaction
        last_key, last_count = rows[-1]
        next_mark = json.dumps([last_key, last_count - (seen - wanted)])
    else:
        next_mark = json.dumps([resume, 0]) if resume else ""
    return {"items": events[skip:wanted], "bookmark": next_mark}


class AuditMixin:
    @transaction(
        "ListAccessByPatient",
        read_only=True,
        arguments={"patient_id": schema.MEMBER, **schema.PAGE},
        returns=documents.Page[documents.AuditEvent],
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, NOT_FOUND, FAILED_PRECONDITION),
    )
    def list_access_by_patient(self, ctx: Context, patient_id: str, page_size: str, bookmark: str) -> dict[str, Any]:
        """The patient, their proxies with the view right and auditors see every event; a custodian's staff see
        the events on its records."""
        who = caller(ctx)
        patient = get_member(ctx, member_id(patient_id, "patient_id"))
        if patient is None:
            raise not_found(f"patient {patient_id} is not registered")
        if who.is_authority_auditor or is_self(who, patient) or may_act_for(ctx, who, patient_id, ProxyRight.VIEW):
            return self._patient_page(ctx, patient_id, page_size, bookmark)
        if who.role in ("clinician", "admin", "auditor"):
            result = self._patient_page(ctx, patient_id, page_size, bookmark)
            result["items"] = [e for e in result["items"] if e["custodian"] == who.msp_id]
            return result
        raise denied("only the patient, the custodian's staff and auditors may read a patient's access log")

    @transaction(
        "ListAccessByRequester",
        read_only=True,
        arguments={"requester_id": schema.MEMBER, **schema.PAGE},
        returns=documents.Page[documents.AuditEvent],
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, FAILED_PRECONDITION),
    )
    def list_access_by_requester(
        self, ctx: Context, requester_id: str, page_size: str, bookmark: str
    ) -> dict[str, Any]:
        """A requester's access events, paginated: for the requester, its organization's admin and auditors
        of the health authority."""
        who = caller(ctx)
        requester = get_member(ctx, member_id(requester_id, "requester_id"))
        own = requester is not None and is_self(who, requester)
        org_admin = requester is not None and who.role == "admin" and requester["org"] == who.msp_id
        if not (own or org_admin or who.is_authority_auditor):
            raise denied("only the requester, its organization's admin and auditors may read its access log")
        return _events_by_transaction(ctx, AUDIT_BY_REQUESTER, [requester_id], page_size, bookmark)

    @transaction(
        "ListAllAccess",
        read_only=True,
        arguments=schema.PAGE,
        returns=documents.Page[documents.AuditEvent],
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, FAILED_PRECONDITION),
    )
    def list_all_access(self, ctx: Context, page_size: str, bookmark: str) -> dict[str, Any]:
        """Every access event of the consortium, paginated, newest transactions last: auditors of the health authority
        only."""
        who = caller(ctx)
        if not who.is_authority_auditor:
            raise denied("only auditors of the health authority may read the whole access log")
        return _events_by_transaction(ctx, AUDIT_BY_TIME, [], page_size, bookmark)

    @staticmethod
    def _patient_page(ctx: Context, patient_id: str, page_size: str, bookmark: str) -> dict[str, Any]:
        """A page of the patient's index, (time, tx_id, n) per decision, as events built from the access
        transactions it names (each read once)."""
        size, mark = page_args(page_size, bookmark)
        rows, next_mark = ctx.stub.get_state_by_partial_composite_key_paginated(
            AUDIT_BY_PATIENT, [patient_id], size, mark
        )
        places = [ctx.stub.split_composite_key(k)[1][-2:] for k, _ in rows]
        accesses = _accesses(ctx, sorted({t for t, _ in places}))
        items = [_event(accesses[t], int(n)) for t, n in places if t in accesses]
        return {"items": items, "bookmark": next_mark}

    @transaction(
        "GetRecordHistory",
        read_only=True,
        arguments={"record_id": schema.ID},
        returns=list[documents.HistoryEntry],
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, NOT_FOUND, FAILED_PRECONDITION),
    )
    def get_record_history(self, ctx: Context, record_id: str) -> list[dict[str, Any]]:
        """Every committed version of a record's metadata with the transaction that wrote it, for those who may see the
        record."""
        who = caller(ctx)
        record = require_record(ctx, object_id(record_id, "record_id"))
        if not can_view_record(ctx, who, record):
            raise denied(f"{who.member_id} may not see the history of record {record_id}")
        return key_history(ctx, RECORD, record_id)
