"""Consent: a patient grants a member or an organization access to records or categories, for purposes,
within a validity window; the grant carries the record keys re-wrapped for the grantee (transient field
`wrapped_keys`, stored as private key entries). Revoking purges the entries no other grant justifies.
A grant to an organization is visible to that organization's staff, never to its patients.
"""

from __future__ import annotations

from typing import Any

from careledger_protocol import (
    FAILED_PRECONDITION,
    INVALID_ARGUMENT,
    NOT_AUTHORIZED,
    NOT_FOUND,
    PURPOSES,
    Event,
    ProxyRight,
    documents,
)

from ...runtime import Context, transaction
from . import _schemas as schema
from ._arguments import MAX_BATCH, Shape, enum, json_object, object_id, refuse_in_arguments, slug
from ._caller import ORG_MEMBER_PREFIX, Caller, caller, member_id, recipient_id, require_role
from ._key_entries import grant_terms, new_entry, put_entry, release_holding, wkey_key, wrapped_keys
from ._paging import index_page
from ._proxy import acts_for, may_act_for
from ._refusals import denied, invalid, not_found, precondition
from ._state import PRIVATE, event, get_json, key, key_history, load, put_json, summary
from ._time import now, timestamp
from .members import get_member, is_self, member_key, patient_or_auditor, require_registered_caller
from .records import GRANT, GRANT_BY_PATIENT, GRANT_BY_PATIENT_CATEGORY, PATIENT_RECORD, RECORD

GRANT_BY_GRANTEE = "grant-g"
MAX_CATEGORIES = 50
NEW_GRANT = schema.object_of(
    {
        "grantee": schema.RECIPIENT,
        "purposes": schema.list_of(schema.one_of(PURPOSES), len(PURPOSES), min_items=1),
        "valid_until": schema.TIME,
    },
    {
        "record_ids": schema.list_of(schema.ID, MAX_BATCH),
        "categories": schema.list_of(schema.SLUG, MAX_CATEGORIES),
        "valid_from": schema.TIME,
        "on_behalf_of": schema.MEMBER,  # the patient, when their proxy grants (checked: _proxy.acts_for)
    },
)

# what its events tell subscribers (careledger_protocol.Event)
GRANT_EVENT_FIELDS = ("patient_id", "grantee", "purposes", "status", "valid_until")


def require_grant(ctx: Context, grant_id: str) -> dict[str, Any]:
    grant = get_json(ctx, GRANT, object_id(grant_id, "grant_id"))
    if grant is None:
        raise not_found(f"grant {grant_id} does not exist")
    return grant


def is_grantee(who: Caller, grant: dict[str, Any]) -> bool:
    """The grantee itself, or a staff member of the grantee organization (never its patients)."""
    grantee = grant["grantee"]
    if grantee.startswith(ORG_MEMBER_PREFIX):
        return bool(grantee == who.org_member and who.is_staff)
    return bool(grantee == who.member_id)


def can_see_grant(ctx: Context, who: Caller, grant: dict[str, Any]) -> bool:
    if who.is_authority_auditor or is_grantee(who, grant):
        return True
    patient = get_member(ctx, grant["patient_id"])
    if patient is not None and is_self(who, patient):
        return True
    return may_act_for(ctx, who, grant["patient_id"], ProxyRight.VIEW)


class ConsentMixin:
    @transaction(
        "GrantConsent",
        arguments={"grant_json": NEW_GRANT},
        returns=documents.Grant,
        events=(Event.CONSENT_GRANTED,),
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, NOT_FOUND, FAILED_PRECONDITION),
    )
    def grant_consent(self, ctx: Context, grant_json: str) -> dict[str, Any]:
        """Only the patient grants, or their proxy with the grant right (`on_behalf_of`: the patient); the grant
        must carry the record key wrapped for every record in scope."""
        who = caller(ctx)
        require_role(who, "patient")
        doc = json_object(grant_json, "grant")
        refuse_in_arguments(doc, "wrapped_keys")
        shape = Shape(doc, "grant", *schema.fields(NEW_GRANT))
        on_behalf_of = shape.string("on_behalf_of", member_id) if "on_behalf_of" in doc else who.member_id
        acting = acts_for(ctx, who, on_behalf_of, ProxyRight.GRANT)
        patient_id = acting.patient_id
        grantee_id = shape.string("grantee", recipient_id)
        record_ids = shape.items("record_ids", object_id, MAX_BATCH)
        ctx.stub.get_states(  # what this reads for sure, in one round trip per namespace
            [member_key(ctx, who.member_id), member_key(ctx, grantee_id), *(key(ctx, RECORD, r) for r in record_ids)]
        )
        ctx.stub.get_states([wkey_key(ctx, r, grantee_id) for r in record_ids], PRIVATE)
        require_registered_caller(ctx, who)
        categories = shape.items("categories", slug, MAX_CATEGORIES)
        purposes = sorted(shape.items("purposes", enum(PURPOSES), len(PURPOSES), min_items=1))
        at = now(ctx)
        valid_from = timestamp(shape.doc["valid_from"], "grant.valid_from") if "valid_from" in shape.doc else at
        valid_until = shape.string("valid_until", timestamp)
        if not record_ids and not categories:
            raise invalid("grant must name record_ids or categories (or both)")
        if valid_until <= max(valid_from, at):
            raise invalid("grant.valid_until must be after valid_from and in the future")
        if grantee_id in (who.member_id, patient_id):
            raise invalid("a patient (or their proxy) cannot grant consent to themselves")
        grantee = get_member(ctx, grantee_id)
        if grantee is None:
            raise not_found(f"grantee {grantee_id} is not registered (organizations register an organization key)")
        if grantee["role"] == "patient":
            raise invalid("consent can be granted to clinicians, researchers or organizations, not to another patient")

        in_scope = self._records_in_scope(ctx, patient_id, record_ids, categories)
        keys = wrapped_keys(ctx, {r["id"] for r in in_scope}, "grant", recipient=grantee_id)
        grant_id = "g-" + ctx.stub.tx_id[:32]
        grant = {
            "id": grant_id,
            "patient_id": patient_id,
            "grantee": grantee_id,
            "grantee_org": grantee["org"],
            "record_ids": record_ids,
            "categories": categories,
            "purposes": purposes,
            "valid_from": valid_from,
            "valid_until": valid_until,
            "status": "active",
            "created_at": at,
            "keyed_records": sorted(keys),
        }
        if acting.by_proxy:
            grant["granted_by"] = who.member_id
        current = ctx.stub.get_states([wkey_key(ctx, r["id"], grantee_id) for r in in_scope], PRIVATE)
        for record, raw in zip(in_scope, current, strict=True):
            entry = load(raw) if raw else new_entry(record, grantee_id, keys[record["id"]])
            entry["jwe"] = keys[record["id"]]
            entry["grants"][grant_id] = grant_terms(grant)
            put_entry(ctx, entry, new=raw is None)
        put_json(ctx, grant, GRANT, grant_id)
        ctx.stub.put_state(key(ctx, GRANT_BY_PATIENT, patient_id, grant_id), b"\x00")
        ctx.stub.put_state(key(ctx, GRANT_BY_GRANTEE, grantee_id, grant_id), b"\x00")
        for category in categories:
            ctx.stub.put_state(key(ctx, GRANT_BY_PATIENT_CATEGORY, patient_id, category, grant_id), b"\x00")
        event(ctx, Event.CONSENT_GRANTED, summary(grant, GRANT_EVENT_FIELDS, id_as="grant_id"))
        return grant

    @staticmethod
    def _records_in_scope(
        ctx: Context, patient_id: str, record_ids: list[str], categories: list[str]
    ) -> list[dict[str, Any]]:
        """Named records (which must be the patient's) plus the patient's records in the categories; active only."""
        named = ctx.stub.get_states([key(ctx, RECORD, r) for r in record_ids])
        records: dict[str, dict[str, Any]] = {}
        for rid, raw in zip(record_ids, named, strict=True):
            if raw is None:
                raise not_found(f"record {rid} does not exist")
            record = load(raw)
            if record["patient_id"] != patient_id:
                raise denied(f"record {rid} is not yours: a patient can grant only their own records")
            if record["status"] == "erased":
                raise precondition(f"record {rid} was erased and cannot be shared")
            records[rid] = record
        if categories:
            rows = list(ctx.stub.get_state_by_partial_composite_key(PATIENT_RECORD, [patient_id]))
            ids = [
                ctx.stub.split_composite_key(k)[1][1]
                for k, _ in rows
                if ctx.stub.split_composite_key(k)[1][1] not in records
            ]
            for raw in ctx.stub.get_states([key(ctx, RECORD, i) for i in ids]):
                record = load(raw) if raw else None
                if record and record["status"] == "active" and record["category"] in categories:
                    records[record["id"]] = record
        return [records[r] for r in sorted(records)]

    @transaction(
        "RevokeConsent",
        arguments={"grant_id": schema.ID},
        returns=documents.Grant,
        events=(Event.CONSENT_REVOKED,),
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, NOT_FOUND, FAILED_PRECONDITION),
    )
    def revoke_consent(self, ctx: Context, grant_id: str) -> dict[str, Any]:
        """The patient revokes, or their proxy with the revoke right: the grantee's wrapped keys that no other grant
        justifies are dropped at once."""
        who = caller(ctx)
        require_role(who, "patient")
        grant = require_grant(ctx, grant_id)
        patient = get_member(ctx, grant["patient_id"])
        if patient is None:
            raise denied("only the patient who granted this consent (or their proxy) may revoke it")
        acting = acts_for(ctx, who, patient["id"], ProxyRight.REVOKE)
        if grant["status"] != "active":
            raise precondition(f"grant {grant_id} was already revoked on {grant['revoked_at']}")
        release_holding(ctx, grant["grantee"], grant["keyed_records"], grant_id)
        for category in grant["categories"]:  # new records of the category no longer get keyed for it
            ctx.stub.del_state(key(ctx, GRANT_BY_PATIENT_CATEGORY, grant["patient_id"], category, grant_id))
        grant.update(status="revoked", revoked_at=now(ctx))
        if acting.by_proxy:
            grant["revoked_by"] = who.member_id
        put_json(ctx, grant, GRANT, grant_id)
        event(ctx, Event.CONSENT_REVOKED, summary(grant, GRANT_EVENT_FIELDS, id_as="grant_id"))
        return grant

    @transaction(
        "GetGrant",
        read_only=True,
        arguments={"grant_id": schema.ID},
        returns=documents.Grant,
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, NOT_FOUND, FAILED_PRECONDITION),
    )
    def get_grant(self, ctx: Context, grant_id: str) -> dict[str, Any]:
        """A grant, for its patient, its grantee (or the grantee organization's staff) and auditors."""
        return _visible_grant(ctx, grant_id)

    @transaction(
        "ListGrantsByPatient",
        read_only=True,
        arguments={"patient_id": schema.MEMBER, **schema.PAGE},
        returns=documents.Page[documents.Grant],
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, FAILED_PRECONDITION),
    )
    def list_grants_by_patient(self, ctx: Context, patient_id: str, page_size: str, bookmark: str) -> dict[str, Any]:
        """A patient's grants, paginated: for the patient and auditors of the health authority."""
        patient_or_auditor(ctx, patient_id, "grants")
        return self._grant_page(ctx, GRANT_BY_PATIENT, patient_id, page_size, bookmark)

    @transaction(
        "ListGrantsByGrantee",
        read_only=True,
        arguments={"grantee_id": schema.RECIPIENT, **schema.PAGE},
        returns=documents.Page[documents.Grant],
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, FAILED_PRECONDITION),
    )
    def list_grants_by_grantee(self, ctx: Context, grantee_id: str, page_size: str, bookmark: str) -> dict[str, Any]:
        """The grants to a grantee, paginated: for the grantee (or, for an organization, its staff) and
        auditors of the health authority."""
        who = caller(ctx)
        grantee_id = recipient_id(grantee_id, "grantee_id")
        own = grantee_id == who.member_id or (grantee_id == who.org_member and who.is_staff)
        if not own and not who.is_authority_auditor:
            raise denied("only the grantee (or its organization's staff) and auditors may list its grants")
        return self._grant_page(ctx, GRANT_BY_GRANTEE, grantee_id, page_size, bookmark)

    @staticmethod
    def _grant_page(ctx: Context, index: str, owner: str, page_size: str, bookmark: str) -> dict[str, Any]:
        grants, next_mark = index_page(ctx, index, [owner], page_size, bookmark, GRANT)
        return {"items": grants, "bookmark": next_mark}

    @transaction(
        "GetGrantHistory",
        read_only=True,
        arguments={"grant_id": schema.ID},
        returns=list[documents.HistoryEntry],
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, NOT_FOUND, FAILED_PRECONDITION),
    )
    def get_grant_history(self, ctx: Context, grant_id: str) -> list[dict[str, Any]]:
        """Every committed version of a grant with the transaction that wrote it, for those who may see the grant."""
        _visible_grant(ctx, grant_id)
        return key_history(ctx, GRANT, grant_id)


def _visible_grant(ctx: Context, grant_id: str) -> dict[str, Any]:
    """The grant, when the caller may see it (see policy.can_see_grant)."""
    who = caller(ctx)
    grant = require_grant(ctx, grant_id)
    if not can_see_grant(ctx, who, grant):
        raise denied(f"{who.member_id} may not see grant {grant_id}")
    return grant
