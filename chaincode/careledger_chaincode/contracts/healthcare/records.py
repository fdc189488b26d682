"""Records: metadata of encrypted FHIR resources held off the ledger, and the record key wrapped per recipient.

The record key is wrapped for each recipient in a private key entry (_key_entries); wrapped keys arrive as
the transient field `wrapped_keys` ({recipient: JWE}), never as arguments.

A record is registered on the ledger before its ciphertext is uploaded: the custodian's store accepts
only the ciphertext whose SHA-256 the ledger holds for the record's current version.
"""

from __future__ import annotations

from typing import Any

from careledger_protocol import (
    CONFLICT,
    FAILED_PRECONDITION,
    INVALID_ARGUMENT,
    NOT_AUTHORIZED,
    NOT_FOUND,
    RESOURCE_TYPES,
    Event,
    ProxyRight,
    documents,
)

from ...runtime import ChaincodeError, Context, transaction
from . import _schemas as schema
from ._arguments import Shape, enum, json_object, object_id, refuse_in_arguments, sha256_hex, slug, text
from ._caller import ORG_MEMBER_PREFIX, Caller, caller, member_id, require_role
from ._compromised import compromised_members
from ._key_entries import (
    caller_entries,
    grant_terms,
    new_entry,
    purge_entry,
    put_entry,
    wkey_entries,
    wrapped_keys,
)
from ._paging import index_page
from ._proxy import PROXY, may_act_for, proxy_refusal, proxy_terms, view_proxies
from ._refusals import denied, invalid, precondition
from ._state import event, get_json, key, load, purge_private, put_json, summary
from ._time import now
from .members import get_member, registered_caller, require_member
from .monitoring import purge_oversight
from .policy import current_entry, may_see_metadata, split_current

RECORD = "record"
PATIENT_RECORD = "patient-record"
GRANT = "grant"
GRANT_BY_PATIENT = "grant-p"
# (patient, category, grant): only category grants can cover a record created later (record_ids
# grants name records that exist), so creating a record reads these, not every grant of the patient.
GRANT_BY_PATIENT_CATEGORY = "grant-pc"
# (patient, record, time, tx, n): public inference entries; the outputs are private under the same keys.
INFERENCE = "inference"
# (tx_id) -> {"time", "inferences": [[patient, record], ...] by n}: the key parts of each inference of a batch, found
# by its name <tx_id>:<n>. One key per batch; until layout 8, one per inference: (tx_id, n as 4 digits) -> its parts.
INFERENCE_BY_TX = "inference-tx"
MAX_CIPHERTEXT = 100 * 1024 * 1024
MAX_LOCATOR = 512
# What a version of a record's ciphertext is: the arguments of CreateRecord and AddRecordVersion.
VERSION_FIELDS = {
    "ciphertext_sha256": schema.SHA256,
    "size": schema.integer_in(1, MAX_CIPHERTEXT),
    "locator": schema.text_of(MAX_LOCATOR),
}
NEW_VERSION = schema.object_of(VERSION_FIELDS)
NEW_RECORD = schema.object_of(
    {
        "record_id": schema.ID,
        "patient_id": schema.MEMBER,
        "category": schema.SLUG,
        "resource_type": schema.one_of(RESOURCE_TYPES),
        **VERSION_FIELDS,
    }
)

# what its events tell subscribers (careledger_protocol.Event)
RECORD_EVENT_FIELDS = ("patient_id", "custodian", "category", "version", "status")


# -- records ---------------------------------------------------------------------------------------------------
def get_record(ctx: Context, record_id: str) -> dict[str, Any] | None:
    return get_json(ctx, RECORD, record_id)


def require_record(ctx: Context, record_id: str) -> dict[str, Any]:
    record = get_record(ctx, record_id)
    if record is None:
        raise ChaincodeError("NOT_FOUND", f"record {record_id} does not exist")
    return record


def require_active(record: dict[str, Any]) -> None:
    if record["status"] == "erased":
        raise precondition(f"record {record['id']} was erased on {record['erased_at']}")


def covering_grants(ctx: Context, patient_id: str, category: str, at: str) -> list[dict[str, Any]]:
    """The patient's active, unexpired grants of a category (a new record of it must be keyed for them)."""
    rows = list(ctx.stub.get_state_by_partial_composite_key(GRANT_BY_PATIENT_CATEGORY, [patient_id, category]))
    grant_ids = [ctx.stub.split_composite_key(k)[1][2] for k, _ in rows]
    grants = [load(g) for g in ctx.stub.get_states([key(ctx, GRANT, g) for g in grant_ids]) if g]
    return [g for g in grants if g["status"] == "active" and at < g["valid_until"]]


def can_view_record(ctx: Context, who: Caller, record: dict[str, Any]) -> bool:
    [(own, org)] = caller_entries(ctx, who, [record["id"]])
    return may_see_metadata(who, record, own, org, now(ctx))


def is_record_patient(who: Caller, record: dict[str, Any]) -> bool:
    return who.role == "patient" and record["patient_id"] == who.member_id


def _version_fields(shape: Shape) -> dict[str, Any]:
    return {
        "ciphertext_sha256": shape.string("ciphertext_sha256", sha256_hex),
        "size": shape.integer("size", 1, MAX_CIPHERTEXT),
        "locator": shape.string("locator", text(MAX_LOCATOR)),
    }


class RecordsMixin:
    @transaction(
        "CreateRecord",
        arguments={"record_json": NEW_RECORD},
        returns=documents.Record,
        events=(Event.RECORD_CREATED,),
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, NOT_FOUND, CONFLICT, FAILED_PRECONDITION),
    )
    def create_record(self, ctx: Context, record_json: str) -> dict[str, Any]:
        """A clinician of the custodian org registers a new record of a registered patient."""
        who = registered_caller(ctx, "clinician")
        doc = json_object(record_json, "record")
        refuse_in_arguments(doc, "wrapped_keys")
        shape = Shape(doc, "record", *schema.fields(NEW_RECORD))
        record_id = shape.string("record_id", object_id)
        patient_id = shape.string("patient_id", member_id)
        fields = _version_fields(shape)
        category = shape.string("category", slug)
        resource_type = shape.string("resource_type", enum(RESOURCE_TYPES))
        if get_record(ctx, record_id) is not None:
            raise ChaincodeError(CONFLICT, f"record {record_id} already exists: use AddRecordVersion for a new version")
        patient = require_member(ctx, patient_id, "patient")
        if patient["role"] != "patient":
            raise invalid(f"{patient_id} is a {patient['role']}, not a patient")
        custodian_key = ORG_MEMBER_PREFIX + who.msp_id
        if get_member(ctx, custodian_key) is None:
            raise precondition(f"{who.msp_id} has no organization key: its admin must call RegisterOrganizationKey")
        at = now(ctx)
        record = {
            "id": record_id,
            "patient_id": patient_id,
            "sealed_for": patient_id,  # the patient id the ciphertext and wrapped keys are bound to
            "custodian": who.msp_id,
            "category": category,
            "resource_type": resource_type,
            "version": 1,
            "status": "active",
            "created_at": at,
            "updated_at": at,
            "created_by": who.member_id,
            **fields,
        }
        grants, proxies = _keyable(
            ctx, covering_grants(ctx, patient_id, category, at), view_proxies(ctx, patient_id, at)
        )
        entitled = {patient_id, custodian_key} | {g["grantee"] for g in grants} | {p["proxy_id"] for p in proxies}
        keys = wrapped_keys(ctx, entitled, "record")
        entries = {r: new_entry(record, r, keys[r]) for r in keys}
        entries[patient_id]["roles"].append("patient")
        entries[custodian_key]["roles"].append("custodian")
        for grant in grants:
            entries[grant["grantee"]]["grants"][grant["id"]] = grant_terms(grant)
            grant["keyed_records"] = sorted({*grant["keyed_records"], record_id})
            put_json(ctx, grant, GRANT, grant["id"])
        for proxy in proxies:  # a proxy with the view right opens the patient's new records too
            entries[proxy["proxy_id"]]["grants"][proxy["id"]] = proxy_terms(proxy)
            proxy["keyed_records"] = sorted({*proxy["keyed_records"], record_id})
            put_json(ctx, proxy, PROXY, patient_id, proxy["proxy_id"])
        for entry in entries.values():
            put_entry(ctx, entry, new=True)
        put_json(ctx, record, RECORD, record_id)
        ctx.stub.put_state(key(ctx, PATIENT_RECORD, patient_id, record_id), b"\x00")
        event(ctx, Event.RECORD_CREATED, summary(record, RECORD_EVENT_FIELDS, id_as="record_id"))
        return record

    @transaction(
        "AddRecordVersion",
        arguments={"record_id": schema.ID, "version_json": NEW_VERSION},
        returns=documents.Record,
        events=(Event.RECORD_VERSION_ADDED,),
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, NOT_FOUND, FAILED_PRECONDITION),
    )
    def add_record_version(self, ctx: Context, record_id: str, version_json: str) -> dict[str, Any]:
        """A new version (new ciphertext under a new key) by the custodian's clinician or the patient, keyed
        only for those entitled now: recipients whose grants all ended lose their entry."""
        who = caller(ctx)
        record = require_record(ctx, object_id(record_id, "record_id"))
        require_active(record)
        is_custodian_clinician = who.role == "clinician" and who.msp_id == record["custodian"]
        if not is_custodian_clinician and not is_record_patient(who, record):
            raise denied("only a clinician of the custodian organization or the patient may add a version")
        doc = json_object(version_json, "version")
        refuse_in_arguments(doc, "wrapped_keys")
        fields = _version_fields(Shape(doc, "version", *schema.fields(NEW_VERSION)))
        at = now(ctx)
        entries = wkey_entries(ctx, record)
        current, ended = split_current(entries, at)
        for holder in sorted(compromised_members(ctx, [r for r, e in current.items() if not e["roles"]])):
            del current[holder]  # a grantee or proxy whose key is compromised gets no key for the new version
            ended.append(holder)
        keys = wrapped_keys(ctx, set(current), "version")
        record.update(fields, version=record["version"] + 1, updated_at=at, sealed_for=record["patient_id"])
        for recipient, entry in current.items():
            put_entry(ctx, {**entry, "jwe": keys[recipient], "version": record["version"]})
        for recipient in ended:
            purge_entry(ctx, entries[recipient])
        put_json(ctx, record, RECORD, record_id)
        event(ctx, Event.RECORD_VERSION_ADDED, summary(record, RECORD_EVENT_FIELDS, id_as="record_id"))
        return record

    @transaction(
        "GetNewRecordRecipients",
        read_only=True,
        arguments={"patient_id": schema.MEMBER, "category": schema.SLUG},
        returns=list[documents.Recipient],
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, NOT_FOUND, FAILED_PRECONDITION),
    )
    def get_new_record_recipients(self, ctx: Context, patient_id: str, category: str) -> list[dict[str, Any]]:
        """Whom a clinician must wrap a new record's key for: the patient, the custodian org, current grantees and
        the patient's proxies with the view right."""
        who = caller(ctx)
        require_role(who, "clinician")
        patient = require_member(ctx, member_id(patient_id, "patient_id"), "patient")
        at = now(ctx)
        grants, relations = _keyable(
            ctx, covering_grants(ctx, patient_id, slug(category, "category"), at), view_proxies(ctx, patient_id, at)
        )
        grantees, proxies = {g["grantee"] for g in grants}, {p["proxy_id"] for p in relations}
        ids = sorted({patient["id"], ORG_MEMBER_PREFIX + who.msp_id} | grantees | proxies)
        return [_recipient(ctx, i) for i in ids]

    @transaction(
        "GetRecipients",
        read_only=True,
        arguments={"record_id": schema.ID},
        returns=list[documents.Recipient],
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, NOT_FOUND, FAILED_PRECONDITION),
    )
    def get_recipients(self, ctx: Context, record_id: str) -> list[dict[str, Any]]:
        """Who is entitled to the record's key now (for a new version or a key rotation), with public keys."""
        who = caller(ctx)
        record = require_record(ctx, object_id(record_id, "record_id"))
        is_custodian_clinician = who.role == "clinician" and who.msp_id == record["custodian"]
        if not (is_custodian_clinician or is_record_patient(who, record)):
            raise denied("only the patient and the custodian's clinicians may list a record's recipients")
        at = now(ctx)
        current = {r: e for r, e in wkey_entries(ctx, record).items() if current_entry(e, at) is not None}
        cut = compromised_members(ctx, [r for r, e in current.items() if not e["roles"]])
        return [_recipient(ctx, r) for r in sorted(current) if r not in cut]

    @transaction(
        "GetRecord",
        read_only=True,
        arguments={"record_id": schema.ID},
        returns=documents.Record,
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, NOT_FOUND, FAILED_PRECONDITION),
    )
    def get_record_tx(self, ctx: Context, record_id: str) -> dict[str, Any]:
        """Metadata only: see policy.may_see_metadata for who may read it."""
        who = caller(ctx)
        record = require_record(ctx, object_id(record_id, "record_id"))
        if not can_view_record(ctx, who, record):
            raise denied(f"{who.member_id} may not see record {record_id}")
        return record

    @transaction(
        "ListPatientRecords",
        read_only=True,
        arguments={"patient_id": schema.MEMBER, **schema.PAGE},
        returns=documents.Page[documents.Record],
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, FAILED_PRECONDITION),
    )
    def list_patient_records(self, ctx: Context, patient_id: str, page_size: str, bookmark: str) -> dict[str, Any]:
        """A patient's records (metadata), paginated; others see only those they may view."""
        who = caller(ctx)
        member_id(patient_id, "patient_id")
        records, next_mark = index_page(ctx, PATIENT_RECORD, [patient_id], page_size, bookmark, RECORD)
        at = now(ctx)
        pairs = caller_entries(ctx, who, [r["id"] for r in records])
        visible = [r for r, (own, org) in zip(records, pairs, strict=True) if may_see_metadata(who, r, own, org, at)]
        if records and who.member_id != patient_id and may_act_for(ctx, who, patient_id, ProxyRight.VIEW):
            visible = records  # the patient's proxy sees all their records, keyed for it or not (yet)
        if records and not visible and who.member_id != patient_id:
            why = proxy_refusal(ctx, who.member_id, patient_id, ProxyRight.VIEW) if who.role == "patient" else None
            raise denied(f"{who.member_id} may not see the records of {patient_id}" + (f": {why}" if why else ""))
        return {"items": visible, "bookmark": next_mark}

    @transaction(
        "EraseRecord",
        arguments={"record_id": schema.ID},
        returns=documents.Record,
        events=(Event.RECORD_ERASED,),
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, NOT_FOUND, FAILED_PRECONDITION),
    )
    def erase_record(self, ctx: Context, record_id: str) -> dict[str, Any]:
        """The patient erases a record: every wrapped key, inference output, review reason and outcome on it is
        purged from every peer (the outcomes leave the models' live performance); the ledger keeps that the record
        existed and was erased."""
        who = caller(ctx)
        require_role(who, "patient")
        record = require_record(ctx, object_id(record_id, "record_id"))
        if not is_record_patient(who, record):
            raise denied("only the record's patient may erase it")
        require_active(record)
        for entry in wkey_entries(ctx, record).values():
            purge_entry(ctx, entry)
        for inference_key, _ in ctx.stub.get_state_by_partial_composite_key(
            INFERENCE, [record["patient_id"], record_id]
        ):
            purge_private(ctx, inference_key)
        purge_oversight(ctx, record["patient_id"], record_id)  # their reviews' reasons and their outcomes
        at = now(ctx)
        for field in ("ciphertext_sha256", "locator", "size"):
            record.pop(field, None)
        record.update(status="erased", erased_at=at, updated_at=at)
        put_json(ctx, record, RECORD, record_id)
        event(ctx, Event.RECORD_ERASED, summary(record, RECORD_EVENT_FIELDS, id_as="record_id"))
        return record


def _keyable(
    ctx: Context, grants: list[dict[str, Any]], proxies: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The covering grants and view proxies a new record is keyed for: not those whose holder's key is
    compromised (nothing is wrapped for it; the patient's care goes on without them)."""
    cut = compromised_members(ctx, [g["grantee"] for g in grants] + [p["proxy_id"] for p in proxies])
    return [g for g in grants if g["grantee"] not in cut], [p for p in proxies if p["proxy_id"] not in cut]


def _recipient(ctx: Context, recipient: str) -> dict[str, Any]:
    member = get_member(ctx, recipient)
    if member is None:
        raise precondition(f"{recipient} has no registered key (organizations: RegisterOrganizationKey)")
    return {"id": recipient, "role": member["role"], "org": member["org"], "public_key": member["public_key"]}
