"""Emergency access after the fact: the custodian's release of record keys to another organization's
emergency requester, and the review of every emergency access.

Key release. An emergency access opens records without consent, but only the custodian's organization holds
their key (wrapped for `org:<custodian>`): a clinician of another hospital is allowed and gets no key. The
custodian's system (the hospital app or a service holding the organization key) asks GetEmergencyKeysToRelease
for the committed emergency: its organization's wrapped keys of the records still awaiting release, within the
access window and at the version decided on, with the requester's registered public key. It unwraps each key
with the organization key, wraps it for the requester and submits ReleaseEmergencyKeys (transient
'wrapped_keys' {record_id: JWE}): the ledger accepts keys only for records that committed emergency awaits from
that custodian, keeps them as private data and logs the release in public. The requester then reads them with
GetEmergencyKeys and fetches the ciphertext from the custodian's store, which releases it against the same
committed emergency access (VerifyAccess). So nothing is re-wrapped without a committed, audited emergency.

Review. An auditor of the health authority, or a custodian's privacy officer (its `auditor`, or its `admin`
where it has none), marks an emergency justified or not with a note: the transient field 'note' with a random
'salt', kept as private data; the public review holds its salted SHA-256 and length. One review per emergency.
The requester, the patients concerned, the custodians' reviewers and the authority's auditors read it.

Storage: ("emergency-release", tx, record) public log of each release; private ("emergency-key", tx, record)
the re-wrapped key; ("emergency-review", tx) the review; private ("emergency-review-note", tx) its note; and the
indexes of _emergency_index.
"""

from __future__ import annotations

from typing import Any

from careledger_protocol import (
    CONFLICT,
    FAILED_PRECONDITION,
    INVALID_ARGUMENT,
    NOT_AUTHORIZED,
    NOT_FOUND,
    Event,
    documents,
)

from ...runtime import ChaincodeError, Context, transaction
from . import _schemas as schema
from ._arguments import Shape, enum, json_object, jwe, refuse_in_arguments, tx_id
from ._caller import Caller, caller, msp_id
from ._compromised import refuse_wrapping
from ._compromised import release_refusal as key_release_refusal
from ._emergency_index import (
    AWAITING_RELEASE,
    EMERGENCY,
    EMERGENCY_BY_CUSTODIAN,
    UNREVIEWED,
    UNREVIEWED_BY_CUSTODIAN,
    custodians_of,
    mark_released,
    mark_reviewed,
)
from ._key_entries import wkey_key
from ._paging import index_page
from ._refusals import denied, invalid, not_found, precondition
from ._state import (
    PRIVATE,
    canonical,
    event,
    get_json,
    get_private,
    key,
    load,
    put_json,
    put_private,
    transient_json,
)
from ._time import now, window_end
from .access import ACCESS, available_key, salted_sha256, transient_reason, transient_salt
from .members import get_member
from .policy import is_custodian_staff, release_refusal
from .records import RECORD

RELEASE = "emergency-release"
RELEASED_KEY = "emergency-key"  # private
REVIEW = "emergency-review"
REVIEW_NOTE = "emergency-review-note"  # private
VERDICTS = ("justified", "unjustified")
LISTS = ("all", "unreviewed", "awaiting-release")
RELEASE_REQUEST = schema.object_of({"access_tx_id": schema.TX_ID})
REVIEW_REQUEST = schema.object_of({"access_tx_id": schema.TX_ID, "verdict": schema.one_of(VERDICTS)})
NOT_RELEASED = "the custodian has not released the key to you yet: it does once it sees this committed access"


def _emergency(ctx: Context, access_tx_id: str) -> dict[str, Any]:
    access = get_json(ctx, ACCESS, tx_id(access_tx_id, "access_tx_id"))
    if access is None or not access["emergency"]:
        raise not_found("no committed emergency access with that id")
    return access


def _awaiting(ctx: Context, access: dict[str, Any], custodian: str) -> list[str]:
    raw = ctx.stub.get_state(key(ctx, AWAITING_RELEASE, custodian, access["time"], access["tx_id"]))
    return list(load(raw)) if raw else []


def is_reviewer(who: Caller, access: dict[str, Any]) -> bool:
    """The authority's auditors, and a custodian's privacy officer: its auditor, or its admin."""
    custodian_officer = who.role in ("auditor", "admin") and who.msp_id in custodians_of(access)
    return who.is_authority_auditor or custodian_officer


def _require_custodian_staff(who: Caller, access: dict[str, Any]) -> None:
    """Its clinicians and admin: the organization's systems, which hold its key, act as one of them."""
    if who.role not in ("clinician", "admin") or who.msp_id not in custodians_of(access):
        raise denied("only the staff of a custodian of these records may release their keys")


def _may_read_review(who: Caller, access: dict[str, Any]) -> bool:
    patients = {d["patient_id"] for d in access["decisions"]}
    concerned = who.role == "patient" and who.member_id in patients
    return concerned or who.member_id == access["requester"] or is_reviewer(who, access)


def _summary(ctx: Context, access: dict[str, Any]) -> dict[str, Any]:
    """An emergency as the queue lists it: what it opened, what awaits a key, its review."""
    allowed = [d for d in access["decisions"] if d["decision"] == "allowed"]
    waiting = [r for c in custodians_of(access) for r in _awaiting(ctx, access, c)]
    released = [key(ctx, RELEASE, access["tx_id"], d["record_id"]) for d in allowed]
    review = get_json(ctx, REVIEW, access["tx_id"])
    item: dict[str, Any] = {
        "access_tx_id": access["tx_id"],
        "time": access["time"],
        "open_until": window_end(access["time"]),
        "requester": access["requester"],
        "requester_org": access["requester_org"],
        "patient_ids": sorted({d["patient_id"] for d in access["decisions"] if d["patient_id"]}),
        "record_ids": [d["record_id"] for d in allowed],
        "custodians": custodians_of(access),
        "justification_sha256": access.get("justification_sha256", ""),
        "justification_length": access.get("justification_length", 0),
        "awaiting_release": sorted(waiting),
        "released": [d["record_id"] for d, raw in zip(allowed, ctx.stub.get_states(released), strict=True) if raw],
        "reviewed": review is not None,
    }
    if review is not None:
        item["review"] = review
    return item


class EmergenciesMixin:
    @transaction(
        "ListEmergencies",
        read_only=True,
        arguments={
            "custodian": schema.or_empty(schema.MSP, "every custodian (auditors of the health authority)"),
            "which": schema.one_of(LISTS),
            **schema.PAGE,
        },
        returns=documents.Page[documents.Emergency],
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, FAILED_PRECONDITION),
    )
    def list_emergencies(
        self, ctx: Context, custodian: str, which: str, page_size: str, bookmark: str
    ) -> dict[str, Any]:
        """Emergency accesses, oldest first: all, those awaiting review, or (for one custodian) those awaiting its
        key release. Auditors of the health authority list any; a custodian's auditor or admin lists those
        touching its records."""
        who = caller(ctx)
        which = enum(LISTS)(which, "which")
        if custodian:
            msp_id(custodian, "custodian")
        own_officer = custodian == who.msp_id and who.role in ("auditor", "admin")
        if not (who.is_authority_auditor or own_officer):
            raise denied("only auditors, and a custodian's auditor or admin for its own records, list emergencies")
        if which == "awaiting-release" and not custodian:
            raise invalid("name the custodian whose key releases to list")
        index, parts = {
            ("all", False): (EMERGENCY, []),
            ("all", True): (EMERGENCY_BY_CUSTODIAN, [custodian]),
            ("unreviewed", False): (UNREVIEWED, []),
            ("unreviewed", True): (UNREVIEWED_BY_CUSTODIAN, [custodian]),
            ("awaiting-release", True): (AWAITING_RELEASE, [custodian]),
        }[(which, bool(custodian))]
        accesses, next_mark = index_page(ctx, index, parts, page_size, bookmark, ACCESS)
        return {"items": [_summary(ctx, a) for a in accesses], "bookmark": next_mark}

    @transaction(
        "GetEmergencyKeysToRelease",
        read_only=True,
        arguments={"access_tx_id": schema.TX_ID},
        returns=documents.EmergencyKeysToRelease,
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, NOT_FOUND, FAILED_PRECONDITION),
    )
    def get_emergency_keys_to_release(self, ctx: Context, access_tx_id: str) -> dict[str, Any]:
        """For the custodian's clinicians and admin (its systems hold the organization key): the organization's
        wrapped keys of the records this committed emergency awaits from it, still open, with the requester's key."""
        who = caller(ctx)
        access = _emergency(ctx, access_tx_id)
        _require_custodian_staff(who, access)
        requester = get_member(ctx, access["requester"])
        if requester is None:
            raise precondition(f"{access['requester']} has no registered key to release to")
        compromised = key_release_refusal(requester)
        if compromised:
            raise precondition(compromised)
        at = now(ctx)
        decided = {d["record_id"]: d for d in access["decisions"]}
        waiting = _awaiting(ctx, access, who.msp_id)
        records = [load(r) if r else None for r in ctx.stub.get_states([key(ctx, RECORD, r) for r in waiting])]
        entries = ctx.stub.get_states([wkey_key(ctx, r, who.org_member) for r in waiting], PRIVATE)
        keys = []
        for rid, record, raw in zip(waiting, records, entries, strict=True):
            if record is None or raw is None or release_refusal(access, record, decided[rid], at):
                continue  # erased, changed or past the window: nothing to release any more
            keys.append(
                {
                    "record_id": rid,
                    "version": record["version"],
                    "patient_id": record["patient_id"],
                    "sealed_for": record.get("sealed_for", record["patient_id"]),
                    "recipient": who.org_member,
                    "wrapped_key": load(raw)["jwe"],
                    "requester": access["requester"],
                    "requester_key": requester["public_key"],
                }
            )
        return {
            "access_tx_id": access["tx_id"],
            "requester": access["requester"],
            "open_until": window_end(access["time"]),
            "keys": keys,
        }

    @transaction(
        "ReleaseEmergencyKeys",
        arguments={"release_json": RELEASE_REQUEST},
        returns=documents.EmergencyRelease,
        events=(Event.EMERGENCY_KEYS_RELEASED,),
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, NOT_FOUND, FAILED_PRECONDITION),
    )
    def release_emergency_keys(self, ctx: Context, release_json: str) -> dict[str, Any]:
        """The custodian's staff hand the requester of a committed emergency access the keys of records of their
        custody it opened and awaits: the transient 'wrapped_keys' {record_id: JWE for the requester}, kept as
        private data (the release itself is logged in public)."""
        who = caller(ctx)
        doc = json_object(release_json, "release")
        refuse_in_arguments(doc, "wrapped_keys")
        access = _emergency(ctx, Shape(doc, "release", *schema.fields(RELEASE_REQUEST)).string("access_tx_id"))
        given = transient_json(ctx, "wrapped_keys", "the record keys wrapped for the requester")
        if not isinstance(given, dict) or not given:
            raise invalid("send the transient field 'wrapped_keys': {record_id: JWE for the requester}")
        _require_custodian_staff(who, access)
        waiting = _awaiting(ctx, access, who.msp_id)
        at = now(ctx)
        decided = {d["record_id"]: d for d in access["decisions"]}
        for rid in sorted(given):
            if rid not in waiting:
                raise precondition(f"{rid}: this emergency access awaits no key for it from you (released already?)")
            record = get_json(ctx, RECORD, rid)
            if record is None or not is_custodian_staff(who, record):
                raise denied(f"{rid}: only the staff of the record's custodian may release its key")
            refusal = release_refusal(access, record, decided[rid], at)
            if refusal:
                raise precondition(f"{rid}: {refusal}")
            wrapped = jwe(given[rid], f"wrapped_keys[{rid}]")
            refuse_wrapping(ctx, access["requester"], [wrapped])
            entry = {"record_id": rid, "recipient": access["requester"], "jwe": wrapped, "version": record["version"]}
            put_private(ctx, entry, RELEASED_KEY, access["tx_id"], rid)
            log = {"record_id": rid, "version": record["version"], "released_by": who.member_id, "time": at}
            put_json(ctx, {**log, "tx_id": ctx.stub.tx_id}, RELEASE, access["tx_id"], rid)
        remaining = [r for r in waiting if r not in given]
        if remaining:
            ctx.stub.put_state(
                key(ctx, AWAITING_RELEASE, who.msp_id, access["time"], access["tx_id"]), canonical(remaining)
            )
        else:
            mark_released(ctx, access, who.msp_id)
        released = {
            "access_tx_id": access["tx_id"],
            "requester": access["requester"],
            "released": sorted(given),
            "released_by": who.member_id,
            "time": at,
        }
        event(ctx, Event.EMERGENCY_KEYS_RELEASED, {**released, "custodian": who.msp_id})
        return released

    @transaction(
        "GetEmergencyKeys",
        read_only=True,
        arguments={"access_tx_id": schema.TX_ID},
        returns=documents.AccessKeys,
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, NOT_FOUND, FAILED_PRECONDITION),
    )
    def get_emergency_keys(self, ctx: Context, access_tx_id: str) -> dict[str, Any]:
        """For the requester of an emergency access: the keys custodians released to it, within the window and
        at the version decided on (records still awaiting say so)."""
        who = caller(ctx)
        access = _emergency(ctx, access_tx_id)
        if access["requester"] != who.member_id:
            raise denied("that access transaction was made by someone else")
        at, member = now(ctx), get_member(ctx, who.member_id)
        keys: dict[str, Any] = {}
        for decided in (d for d in access["decisions"] if d["decision"] == "allowed"):
            rid = decided["record_id"]
            record = get_json(ctx, RECORD, rid)
            entry = get_private(ctx, RELEASED_KEY, access["tx_id"], rid)
            refusal = release_refusal(access, record, decided, at) or key_release_refusal(member, entry)
            if refusal or record is None or entry is None:
                keys[rid] = {"available": False, "reason": refusal or NOT_RELEASED}
                continue
            keys[rid] = available_key(entry, record)
        return {"access_tx_id": access["tx_id"], "purpose": access["purpose"], "keys": keys}

    @transaction(
        "ReviewEmergency",
        arguments={"review_json": REVIEW_REQUEST},
        returns=documents.EmergencyReview,
        events=(Event.EMERGENCY_REVIEWED,),
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, NOT_FOUND, CONFLICT, FAILED_PRECONDITION),
    )
    def review_emergency(self, ctx: Context, review_json: str) -> dict[str, Any]:
        """An auditor of the health authority or a custodian's privacy officer (auditor, else admin) marks an
        emergency access justified or not, with a note: the transient field 'note' (at least 20 letters) and a
        random 'salt', kept as private data. One review per emergency."""
        who = caller(ctx)
        doc = json_object(review_json, "review")
        refuse_in_arguments(doc, "note")
        shape = Shape(doc, "review", *schema.fields(REVIEW_REQUEST))
        access = _emergency(ctx, shape.string("access_tx_id"))
        verdict = shape.string("verdict", enum(VERDICTS))
        if not is_reviewer(who, access):
            raise denied("only auditors and the custodians' privacy officers (auditor or admin) review an emergency")
        if get_json(ctx, REVIEW, access["tx_id"]) is not None:
            raise ChaincodeError(CONFLICT, "this emergency access has been reviewed already")
        note, salt = _note(ctx)
        at = now(ctx)
        review = {
            "access_tx_id": access["tx_id"],
            "reviewer": who.member_id,
            "reviewer_org": who.msp_id,
            "reviewer_role": who.role,
            "verdict": verdict,
            "time": at,
            "tx_id": ctx.stub.tx_id,
            "note_sha256": salted_sha256(salt, note),
            "note_length": len(note),
        }
        put_json(ctx, review, REVIEW, access["tx_id"])
        put_private(ctx, {"note": note, "salt": salt}, REVIEW_NOTE, access["tx_id"])
        mark_reviewed(ctx, access)
        patients = sorted({d["patient_id"] for d in access["decisions"] if d["patient_id"]})
        event(ctx, Event.EMERGENCY_REVIEWED, {**review, "requester": access["requester"], "patient_ids": patients})
        return review

    @transaction(
        "GetEmergencyReview",
        read_only=True,
        arguments={"access_tx_id": schema.TX_ID},
        returns=documents.EmergencyReview,
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, NOT_FOUND, FAILED_PRECONDITION),
    )
    def get_emergency_review(self, ctx: Context, access_tx_id: str) -> dict[str, Any]:
        """The review of an emergency access with its note (None when this peer holds none): for the requester,
        the patients concerned, the custodians' privacy officers and the authority's auditors."""
        who = caller(ctx)
        access = _emergency(ctx, access_tx_id)
        if not _may_read_review(who, access):
            raise denied("only the requester, the patients concerned and reviewers may read this review")
        review = get_json(ctx, REVIEW, access["tx_id"])
        if review is None:
            raise not_found("this emergency access has not been reviewed yet")
        note = get_private(ctx, REVIEW_NOTE, access["tx_id"])
        return {**review, "note": note["note"] if note else None}


def _note(ctx: Context) -> tuple[str, str]:
    return transient_reason(ctx, "note"), transient_salt(ctx)
