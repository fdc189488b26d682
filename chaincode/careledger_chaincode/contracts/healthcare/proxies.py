"""Proxies: a patient names a person (a parent, guardian or caregiver, enrolled with role patient) who may act
for them — view their records and access log, grant, revoke — until an end date; for a minor or a patient
who cannot act, the admin of the patient's hospital names the proxy. The proxy then signs as themselves and
names the patient (`on_behalf_of`); _proxy.acts_for decides every such act.

A proxy with the view right holds the patient's record keys: naming one carries the keys of the patient's
active records re-wrapped for the proxy (transient `wrapped_keys`, {record id: JWE}, stored as private key
entries like a grantee's), and every later record of the patient is keyed for the proxy (CreateRecord).
An admin cannot open the patient's keys, so a proxy an admin names is keyed for the records created from
then on. Revoking purges the proxy's key entries. Nothing here is free text: ids, rights and times only
(the relationship — parent, guardian — stays off the ledger, with the people's names).
"""

from __future__ import annotations

from typing import Any

from careledger_protocol import (
    CONFLICT,
    FAILED_PRECONDITION,
    INVALID_ARGUMENT,
    NOT_AUTHORIZED,
    NOT_FOUND,
    PROXY_RIGHT_NEEDS,
    PROXY_RIGHTS,
    PROXY_ROLE,
    Event,
    ProxyRight,
    documents,
)

from ...runtime import ChaincodeError, Context, transaction
from . import _schemas as schema
from ._arguments import Shape, enum, json_object, refuse_in_arguments
from ._caller import Caller, caller, member_id
from ._key_entries import new_entry, put_entry, release_holding, wrapped_keys
from ._paging import page, page_args
from ._proxy import PROXY, PROXY_BY_PROXY, get_proxy, is_the_patient, proxy_terms
from ._refusals import denied, invalid, not_found, precondition
from ._state import event, get_json, key, load, put_json, summary
from ._time import now, timestamp
from .members import get_member, require_registered_caller
from .records import PATIENT_RECORD, RECORD

NEW_PROXY = schema.object_of(
    {
        "patient_id": schema.MEMBER,
        "proxy_id": schema.MEMBER,
        "rights": schema.list_of(schema.one_of(PROXY_RIGHTS), len(PROXY_RIGHTS), min_items=1),
        "valid_until": schema.TIME,
    },
    {"valid_from": schema.TIME},
)
# what its events tell subscribers (careledger_protocol.Event)
PROXY_EVENT_FIELDS = ("patient_id", "proxy_id", "rights", "status", "valid_until")


def _may_name_proxies(who: Caller, patient: dict[str, Any]) -> bool:
    """The patient themselves, or the admin of the patient's hospital (for a minor or a patient who cannot act)."""
    return is_the_patient(who, patient["id"]) or (who.role == "admin" and who.msp_id == patient["org"])


def _require_patient(ctx: Context, patient_id: str) -> dict[str, Any]:
    patient = get_member(ctx, patient_id)
    if patient is None or patient["role"] != "patient":
        raise not_found(f"{patient_id} is not a registered patient")
    return patient


def _active_records(ctx: Context, patient_id: str) -> list[str]:
    """The patient's records that are not erased: those a view proxy must be keyed for."""
    rows = ctx.stub.get_state_by_partial_composite_key(PATIENT_RECORD, [patient_id])
    ids = [ctx.stub.split_composite_key(k)[1][1] for k, _ in rows]
    records = [load(r) for r in ctx.stub.get_states([key(ctx, RECORD, i) for i in ids]) if r]
    return sorted(r["id"] for r in records if r["status"] == "active")


class ProxiesMixin:
    @transaction(
        "SetProxy",
        arguments={"proxy_json": NEW_PROXY},
        returns=documents.Proxy,
        events=(Event.PROXY_SET,),
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, NOT_FOUND, CONFLICT, FAILED_PRECONDITION),
    )
    def set_proxy(self, ctx: Context, proxy_json: str) -> dict[str, Any]:
        """The patient (or the admin of the patient's hospital) names a proxy with rights until a time. With the
        view right, the patient sends their active records' keys re-wrapped for the proxy (transient
        `wrapped_keys`); an admin sends none (it cannot open them)."""
        who = caller(ctx)
        doc = json_object(proxy_json, "proxy")
        refuse_in_arguments(doc, "wrapped_keys")
        shape = Shape(doc, "proxy", *schema.fields(NEW_PROXY))
        patient_id = shape.string("patient_id", member_id)
        proxy_id = shape.string("proxy_id", member_id)
        rights = sorted(shape.items("rights", enum(PROXY_RIGHTS), len(PROXY_RIGHTS), min_items=1))
        at = now(ctx)
        valid_from = timestamp(doc["valid_from"], "proxy.valid_from") if "valid_from" in doc else at
        valid_until = shape.string("valid_until", timestamp)
        patient = _require_patient(ctx, patient_id)
        if not _may_name_proxies(who, patient):
            raise denied(
                f"only {patient_id} or an admin of {patient['org']} may name a proxy for {patient_id} "
                "(nobody names themselves the proxy of another patient)"
            )
        if who.role != "admin":
            require_registered_caller(ctx, who)
        if proxy_id == patient_id:
            raise invalid("a patient cannot be their own proxy")
        for right, needs in PROXY_RIGHT_NEEDS.items():
            if right in rights and needs not in rights:
                raise invalid(f"the right {right} needs the right {needs} too (granting re-wraps keys the proxy opens)")
        if valid_until <= max(valid_from, at):
            raise invalid("proxy.valid_until must be after valid_from and in the future")
        proxy = get_member(ctx, proxy_id)
        if proxy is None:
            raise not_found(f"proxy {proxy_id} is not registered (a proxy enrolls and registers a key first)")
        if proxy["role"] != PROXY_ROLE:
            raise invalid(f"a proxy is a person enrolled with role {PROXY_ROLE}; {proxy_id} is a {proxy['role']}")
        existing = get_proxy(ctx, patient_id, proxy_id)
        if existing is not None and existing["status"] == "active":
            raise ChaincodeError(CONFLICT, f"{proxy_id} is already a proxy of {patient_id}: revoke it first")
        keyed = _active_records(ctx, patient_id) if ProxyRight.VIEW in rights and who.role != "admin" else []
        keys = wrapped_keys(ctx, set(keyed), "proxy", recipient=proxy_id)
        relation = {
            "id": "px-" + ctx.stub.tx_id[:32],
            "patient_id": patient_id,
            "proxy_id": proxy_id,
            "proxy_org": proxy["org"],
            "rights": rights,
            "valid_from": valid_from,
            "valid_until": valid_until,
            "status": "active",
            "created_at": at,
            "created_by": who.member_id,
            "keyed_records": keyed,
        }
        records = [load(r) for r in ctx.stub.get_states([key(ctx, RECORD, r) for r in keyed]) if r]
        for record in records:
            entry = new_entry(record, proxy_id, keys[record["id"]])
            entry["grants"][relation["id"]] = proxy_terms(relation)
            put_entry(ctx, entry, new=True)
        put_json(ctx, relation, PROXY, patient_id, proxy_id)
        ctx.stub.put_state(key(ctx, PROXY_BY_PROXY, proxy_id, patient_id), b"\x00")
        event(
            ctx,
            Event.PROXY_SET,
            {**summary(relation, PROXY_EVENT_FIELDS, id_as="proxy_relation_id"), "by": who.member_id},
        )
        return relation

    @transaction(
        "RevokeProxy",
        arguments={"patient_id": schema.MEMBER, "proxy_id": schema.MEMBER},
        returns=documents.Proxy,
        events=(Event.PROXY_REVOKED,),
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, NOT_FOUND, FAILED_PRECONDITION),
    )
    def revoke_proxy(self, ctx: Context, patient_id: str, proxy_id: str) -> dict[str, Any]:
        """The patient, the admin of the patient's hospital, or the proxy stepping down ends a proxy's rights at
        once; the proxy's keys to the patient's records are purged from every peer."""
        who = caller(ctx)
        patient = _require_patient(ctx, member_id(patient_id, "patient_id"))
        relation = get_proxy(ctx, patient_id, member_id(proxy_id, "proxy_id"))
        if relation is None:
            raise not_found(f"{proxy_id} is not a proxy of {patient_id}")
        if not (_may_name_proxies(who, patient) or who.member_id == proxy_id):
            raise denied(f"only {patient_id}, an admin of {patient['org']} or the proxy may end this proxy's rights")
        if relation["status"] != "active":
            raise precondition(f"the proxy rights of {proxy_id} for {patient_id} were already revoked")
        release_holding(ctx, proxy_id, relation["keyed_records"], relation["id"])
        relation.update(status="revoked", revoked_at=now(ctx), revoked_by=who.member_id)
        put_json(ctx, relation, PROXY, patient_id, proxy_id)
        event(
            ctx,
            Event.PROXY_REVOKED,
            {**summary(relation, PROXY_EVENT_FIELDS, id_as="proxy_relation_id"), "by": who.member_id},
        )
        return relation

    @transaction(
        "ListProxiesOfPatient",
        read_only=True,
        arguments={"patient_id": schema.MEMBER, **schema.PAGE},
        returns=documents.Page[documents.Proxy],
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, NOT_FOUND, FAILED_PRECONDITION),
    )
    def list_proxies_of_patient(self, ctx: Context, patient_id: str, page_size: str, bookmark: str) -> dict[str, Any]:
        """A patient's proxies (any status), paginated: for the patient, the admin of the patient's hospital and
        auditors of the health authority."""
        who = caller(ctx)
        patient = _require_patient(ctx, member_id(patient_id, "patient_id"))
        if not (_may_name_proxies(who, patient) or who.is_authority_auditor):
            raise denied(f"only {patient_id}, an admin of {patient['org']} and auditors may list its proxies")
        return page(ctx, PROXY, [patient_id], page_size, bookmark)

    @transaction(
        "ListPatientsIActFor",
        read_only=True,
        arguments=schema.PAGE,
        returns=documents.Page[documents.Proxy],
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, FAILED_PRECONDITION),
    )
    def list_patients_i_act_for(self, ctx: Context, page_size: str, bookmark: str) -> dict[str, Any]:
        """The caller's own proxy relations (any status), paginated: whom the caller may act for, and how."""
        who = caller(ctx)
        size, mark = page_args(page_size, bookmark)
        rows, next_mark = ctx.stub.get_state_by_partial_composite_key_paginated(
            PROXY_BY_PROXY, [who.member_id], size, mark
        )
        patients = [ctx.stub.split_composite_key(k)[1][1] for k, _ in rows]
        relations = [get_json(ctx, PROXY, p, who.member_id) for p in patients]
        return {"items": [r for r in relations if r is not None], "bookmark": next_mark}
