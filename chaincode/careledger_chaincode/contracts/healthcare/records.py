"""Records: metadata of encrypted FHIR resources held off the ledger, and the record key wrapped per recipient.

A wrapped-key entry (kind "wkey", per record and recipient) says why the recipient holds the key:
    roles  - "patient" and/or "custodian"
    grants - {grant_id: {purposes, valid_from, valid_until}} for grantees
so an access decision needs only the record and two entries (the caller's and its org's).
"""

from __future__ import annotations

from typing import Any

from ...runtime import CONFLICT, ChaincodeError, Context, transaction
from ._common import (
    ORG_MEMBER_PREFIX,
    RESOURCE_TYPES,
    Caller,
    Shape,
    caller,
    denied,
    enum,
    event,
    get_json,
    invalid,
    json_object,
    jwe,
    key,
    load,
    member_id,
    now,
    page_args,
    precondition,
    put_json,
    require_role,
    sha256_hex,
    slug,
    text,
)
from .members import get_member, is_self, require_member, require_registered_caller

RECORD = "record"
PATIENT_RECORD = "patient-record"
WKEY = "wkey"
GRANT = "grant"
GRANT_BY_PATIENT = "grant-p"
# (patient, category, grant): only category grants can cover a record created later (record_ids
# grants name records that exist), so creating a record reads these, not every grant of the patient.
GRANT_BY_PATIENT_CATEGORY = "grant-pc"
MAX_CIPHERTEXT = 100 * 1024 * 1024


# -- wrapped-key entries ------------------------------------------------------------------------------------
def wkey_key(ctx: Context, record_id: str, recipient: str) -> str:
    return key(ctx, WKEY, record_id, recipient)


def wkey_entries(ctx: Context, record_id: str) -> dict[str, dict[str, Any]]:
    """Every recipient's entry for one record."""
    return {load(v)["recipient"]: load(v) for _, v in ctx.stub.get_state_by_partial_composite_key(WKEY, [record_id])}


def new_entry(record: dict[str, Any], recipient: str, wrapped: dict[str, Any]) -> dict[str, Any]:
    return {
        "record_id": record["id"],
        "recipient": recipient,
        "jwe": wrapped,
        "version": record["version"],
        "roles": [],
        "grants": {},
    }


def grant_terms(grant: dict[str, Any]) -> dict[str, Any]:
    return {
        "purposes": grant["purposes"],
        "valid_from": grant["valid_from"],
        "valid_until": grant["valid_until"],
    }


def grant_is_current(terms: dict[str, Any], at: str) -> bool:
    return bool(terms["valid_from"] <= at < terms["valid_until"])


def terms_allow(terms: dict[str, Any], purpose: str, at: str) -> bool:
    """Do a grant's terms (its own, or their copy in a key entry) allow `purpose` at `at`?"""
    return purpose in terms["purposes"] and grant_is_current(terms, at)


def entry_allows(entry: dict[str, Any] | None, purpose: str, at: str) -> str | None:
    """The grant id that lets this entry's holder use the record for `purpose` at `at`, or None."""
    if entry is None:
        return None
    for grant_id, terms in sorted(entry["grants"].items()):
        if terms_allow(terms, purpose, at):
            return str(grant_id)
    return None


def why_not(entries: list[dict[str, Any] | None], purpose: str, at: str) -> str:
    """Why no consent covers this use, in words for the requester."""
    terms = [t for e in entries if e for t in e["grants"].values()]
    if not terms:
        return "no consent from the patient covers this record"
    if not any(purpose in t["purposes"] for t in terms):
        return f"the patient's consent does not cover the purpose {purpose}"
    if any(at >= t["valid_until"] for t in terms if purpose in t["purposes"]):
        return "the patient's consent has expired"
    return "the patient's consent is not valid yet"


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


def covering_grants(ctx: Context, patient_id: str, record: dict[str, Any], at: str) -> list[dict[str, Any]]:
    """The patient's active, unexpired grants of the new record's category (they must get its key)."""
    rows = list(
        ctx.stub.get_state_by_partial_composite_key(GRANT_BY_PATIENT_CATEGORY, [patient_id, record["category"]])
    )
    grant_ids = [ctx.stub.split_composite_key(k)[1][2] for k, _ in rows]
    grants = [load(g) for g in ctx.stub.get_states([key(ctx, GRANT, g) for g in grant_ids]) if g]
    return [g for g in grants if g["status"] == "active" and at < g["valid_until"]]


def check_wrapped_keys(given: dict[str, Any], required: set[str], what: str) -> dict[str, dict[str, Any]]:
    """The wrapped keys must be exactly for the entitled recipients: none missing, none extra."""
    missing = sorted(required - set(given))
    if missing:
        raise precondition(f"{what}: wrapped keys are missing for {', '.join(missing)} (each is in scope or entitled)")
    extra = sorted(set(given) - required)
    if extra:
        raise invalid(f"{what}: {', '.join(extra)} may not receive the record key (no role or active consent)")
    return {r: jwe(given[r], f"{what}.wrapped_keys[{r}]") for r in sorted(given)}


def is_custodian_staff(who: Caller, record: dict[str, Any]) -> bool:
    """A clinician or the admin of the organization holding the record."""
    return who.msp_id == record["custodian"] and who.role in ("clinician", "admin")


def can_view_record(ctx: Context, who: Caller, record: dict[str, Any]) -> bool:
    if who.is_authority_auditor:
        return True
    if who.role == "patient":
        return who.member_id == record["patient_id"] and _patient_matches(ctx, who, record)
    if is_custodian_staff(who, record):
        return True
    at = now(ctx)
    entries = ctx.stub.get_states(
        [wkey_key(ctx, record["id"], who.member_id), wkey_key(ctx, record["id"], who.org_member)]
    )
    return any(grant_is_current(t, at) for raw in entries if raw for t in load(raw)["grants"].values())


def _patient_matches(ctx: Context, who: Caller, record: dict[str, Any]) -> bool:
    patient = get_member(ctx, record["patient_id"])
    return patient is not None and is_self(who, patient)


def _version_fields(shape: Shape) -> dict[str, Any]:
    return {
        "ciphertext_sha256": shape.string("ciphertext_sha256", sha256_hex),
        "size": shape.integer("size", 1, MAX_CIPHERTEXT),
        "locator": shape.string("locator", text(512)),
    }


class RecordsMixin:
    @transaction("CreateRecord")
    def create_record(self, ctx: Context, record_json: str) -> dict[str, Any]:
        """A clinician of the custodian org registers a new record of a registered patient."""
        who = caller(ctx)
        require_role(who, "clinician")
        require_registered_caller(ctx, who)
        doc = json_object(record_json, "record")
        shape = Shape(
            doc,
            "record",
            (
                "record_id",
                "patient_id",
                "category",
                "resource_type",
                "ciphertext_sha256",
                "size",
                "locator",
                "wrapped_keys",
            ),
        )
        record_id = shape.string("record_id", member_id)
        patient_id = shape.string("patient_id", member_id)
        fields = _version_fields(shape)
        category = shape.string("category", slug)
        resource_type = shape.string("resource_type", enum(RESOURCE_TYPES))
        wrapped = shape.object("wrapped_keys")
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
        grants = covering_grants(ctx, patient_id, record, at)
        required = {patient_id, custodian_key} | {g["grantee"] for g in grants}
        keys = check_wrapped_keys(wrapped, required, "record")
        entries = {r: new_entry(record, r, keys[r]) for r in keys}
        entries[patient_id]["roles"].append("patient")
        entries[custodian_key]["roles"].append("custodian")
        for grant in grants:
            entries[grant["grantee"]]["grants"][grant["id"]] = grant_terms(grant)
            grant["keyed_records"] = sorted({*grant["keyed_records"], record_id})
            put_json(ctx, grant, GRANT, grant["id"])
        for recipient, entry in entries.items():
            put_json(ctx, entry, WKEY, record_id, recipient)
        put_json(ctx, record, RECORD, record_id)
        ctx.stub.put_state(key(ctx, PATIENT_RECORD, patient_id, record_id), b"\x00")
        event(ctx, "RecordCreated", _record_event(record))
        return record

    @transaction("AddRecordVersion")
    def add_record_version(self, ctx: Context, record_id: str, version_json: str) -> dict[str, Any]:
        """A new version (new ciphertext under a new key) by the custodian's clinician or the patient."""
        who = caller(ctx)
        record = require_record(ctx, member_id(record_id, "record_id"))
        require_active(record)
        is_custodian_clinician = who.role == "clinician" and who.msp_id == record["custodian"]
        if not is_custodian_clinician and not (who.role == "patient" and _patient_matches(ctx, who, record)):
            raise denied("only a clinician of the custodian organization or the patient may add a version")
        shape = Shape(
            json_object(version_json, "version"),
            "version",
            ("ciphertext_sha256", "size", "locator", "wrapped_keys"),
        )
        fields = _version_fields(shape)
        entries = wkey_entries(ctx, record_id)
        keys = check_wrapped_keys(shape.object("wrapped_keys"), set(entries), "version")
        record.update(fields, version=record["version"] + 1, updated_at=now(ctx))
        for recipient, entry in entries.items():
            entry.update(jwe=keys[recipient], version=record["version"])
            put_json(ctx, entry, WKEY, record_id, recipient)
        put_json(ctx, record, RECORD, record_id)
        event(ctx, "RecordVersionAdded", _record_event(record))
        return record

    @transaction("GetNewRecordRecipients", read_only=True)
    def get_new_record_recipients(self, ctx: Context, patient_id: str, category: str) -> list[dict[str, Any]]:
        """Whom a clinician must wrap a new record's key for: the patient, the custodian org, current grantees."""
        who = caller(ctx)
        require_role(who, "clinician")
        patient = require_member(ctx, member_id(patient_id, "patient_id"), "patient")
        probe = {"id": "", "category": slug(category, "category")}
        grantees = {g["grantee"] for g in covering_grants(ctx, patient_id, probe, now(ctx))}
        ids = sorted({patient["id"], ORG_MEMBER_PREFIX + who.msp_id} | grantees)
        return [_recipient(ctx, i) for i in ids]

    @transaction("GetRecipients", read_only=True)
    def get_recipients(self, ctx: Context, record_id: str) -> list[dict[str, Any]]:
        """Who holds the record's key now (for a new version or a key rotation), with public keys."""
        who = caller(ctx)
        record = require_record(ctx, member_id(record_id, "record_id"))
        if not (is_custodian_staff(who, record) or (who.role == "patient" and _patient_matches(ctx, who, record))):
            raise denied("only the patient and the custodian's staff may list a record's recipients")
        return [_recipient(ctx, i) for i in sorted(wkey_entries(ctx, record_id))]

    @transaction("GetRecord", read_only=True)
    def get_record_tx(self, ctx: Context, record_id: str) -> dict[str, Any]:
        """Metadata only: the patient, the custodian's staff, current grantees and auditors may read it."""
        who = caller(ctx)
        record = require_record(ctx, member_id(record_id, "record_id"))
        if not can_view_record(ctx, who, record):
            raise denied(f"{who.member_id} may not see record {record_id}")
        return record

    @transaction("ListPatientRecords", read_only=True)
    def list_patient_records(self, ctx: Context, patient_id: str, page_size: str, bookmark: str) -> dict[str, Any]:
        """A patient's records (metadata), paginated; others see only those they may view."""
        who = caller(ctx)
        member_id(patient_id, "patient_id")
        size, mark = page_args(page_size, bookmark)
        rows, next_mark = ctx.stub.get_state_by_partial_composite_key_paginated(
            PATIENT_RECORD, [patient_id], size, mark
        )
        ids = [ctx.stub.split_composite_key(k)[1][1] for k, _ in rows]
        records = [load(r) for r in ctx.stub.get_states([key(ctx, RECORD, i) for i in ids]) if r]
        visible = [r for r in records if can_view_record(ctx, who, r)]
        if records and not visible and who.member_id != patient_id:
            raise denied(f"{who.member_id} may not see the records of {patient_id}")
        return {"items": visible, "bookmark": next_mark}

    @transaction("EraseRecord")
    def erase_record(self, ctx: Context, record_id: str) -> dict[str, Any]:
        """The patient erases a record: every wrapped key is dropped; the ledger keeps that it existed."""
        who = caller(ctx)
        require_role(who, "patient")
        record = require_record(ctx, member_id(record_id, "record_id"))
        if not _patient_matches(ctx, who, record):
            raise denied("only the record's patient may erase it")
        require_active(record)
        for recipient in wkey_entries(ctx, record_id):
            ctx.stub.del_state(wkey_key(ctx, record_id, recipient))
        at = now(ctx)
        for field in ("ciphertext_sha256", "locator", "size"):
            record.pop(field, None)
        record.update(status="erased", erased_at=at, updated_at=at)
        put_json(ctx, record, RECORD, record_id)
        event(ctx, "RecordErased", _record_event(record))
        return record


def _recipient(ctx: Context, recipient: str) -> dict[str, Any]:
    member = get_member(ctx, recipient)
    if member is None:
        raise precondition(f"{recipient} has no registered key (organizations: RegisterOrganizationKey)")
    return {"id": recipient, "role": member["role"], "org": member["org"], "public_key": member["public_key"]}


def _record_event(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "record_id": record["id"],
        "patient_id": record["patient_id"],
        "custodian": record["custodian"],
        "category": record["category"],
        "version": record["version"],
        "status": record["status"],
    }
