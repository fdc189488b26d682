"""Consent requests: a clinician or researcher asks a patient for access (records or categories, purposes, until
when, with a message); the patient approves, by granting (GrantConsent) and naming that grant in the answer, or
declines, optionally saying why.

Free text never reaches a block: the message and a decline's reason travel as the transient fields 'message' and
'reason' with a random 'salt', and are kept as private data (PRIVATE, held by every application organization's
peers; blocks carry only its hash); the public request holds their salted SHA-256 and length. GetConsentRequest
gives the words to the patient, the requester and auditors of the health authority.

Storage:
- ("consent-request", id): the request; its status is "pending", "approved" or "declined" as stored, and a
  pending request past `expires_at` is answered as "expired" (nothing is written when it lapses);
- ("consent-request-p", patient, created_at, id) and ("consent-request-r", requester, created_at, id): the
  patient's and the requester's requests, oldest first;
- private ("consent-request-text", id): {"message", "salt"} and, once declined with a reason, {"reason", ...}.
"""

from __future__ import annotations

import datetime
from typing import Any

from careledger_protocol import (
    FAILED_PRECONDITION,
    INVALID_ARGUMENT,
    NOT_AUTHORIZED,
    NOT_FOUND,
    PURPOSE_ROLES,
    PURPOSES,
    Event,
    documents,
)

from ...runtime import Context, transaction
from . import _schemas as schema
from ._arguments import MAX_BATCH, Shape, enum, json_object, object_id, refuse_in_arguments, slug
from ._caller import Caller, caller, member_id, require_role
from ._paging import index_page
from ._refusals import denied, invalid, not_found, precondition
from ._state import event, get_json, get_private, key, load, put_json, put_private, summary
from ._time import instant, iso, now, timestamp
from .access import salted_sha256, transient_salt
from .consent import MAX_CATEGORIES, is_grantee, require_grant
from .members import get_member, is_self, registered_caller, require_member
from .records import RECORD

REQUEST = "consent-request"
REQUEST_BY_PATIENT = "consent-request-p"
REQUEST_BY_REQUESTER = "consent-request-r"
REQUEST_TEXT = "consent-request-text"  # private: the message and a decline's reason
# An unanswered request lapses after this long: the patient is not asked for ever.
REQUEST_LIFETIME = datetime.timedelta(days=30)
MAX_MESSAGE = 2000
ANSWERS = ("approved", "declined")
NEW_REQUEST = schema.object_of(
    {
        "patient_id": schema.MEMBER,
        "purposes": schema.list_of(schema.one_of(PURPOSES), len(PURPOSES), min_items=1),
        "valid_until": schema.TIME,
    },
    {"record_ids": schema.list_of(schema.ID, MAX_BATCH), "categories": schema.list_of(schema.SLUG, MAX_CATEGORIES)},
)
ANSWER = schema.object_of({"request_id": schema.ID, "decision": schema.one_of(ANSWERS)}, {"grant_id": schema.ID})
# what their events tell subscribers (careledger_protocol.Event)
REQUEST_EVENT_FIELDS = ("patient_id", "requester", "requester_org", "purposes", "status", "created_at")
_PRIVATE_FIELDS = ("message", "reason")


def _text(ctx: Context, name: str, required: bool) -> str | None:
    """A free text sent as the transient field `name` (checked: UTF-8, says something, not too long)."""
    raw = ctx.stub.transient.get(name)
    if raw is None:
        if required:
            raise invalid(f"send the {name} as the transient field {name!r} (it never goes in the block)")
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise invalid(f"the {name} must be UTF-8 text") from None
    if not text.strip() or len(text) > MAX_MESSAGE:
        raise invalid(f"the {name} must be text of 1 to {MAX_MESSAGE} characters")
    return text


def current_status(request: dict[str, Any], at: str) -> str:
    """The request's status now: a pending request past its expiry has lapsed."""
    if request["status"] == "pending" and at >= request["expires_at"]:
        return "expired"
    return str(request["status"])


def _as_seen(request: dict[str, Any], at: str) -> dict[str, Any]:
    return {**request, "status": current_status(request, at)}


def require_request(ctx: Context, request_id: str) -> dict[str, Any]:
    request = get_json(ctx, REQUEST, object_id(request_id, "request_id"))
    if request is None:
        raise not_found(f"consent request {request_id} does not exist")
    return request


def _may_read(who: Caller, request: dict[str, Any]) -> bool:
    is_patient = who.role == "patient" and who.member_id == request["patient_id"]
    return is_patient or who.member_id == request["requester"] or who.is_authority_auditor


def _patients_records(ctx: Context, patient_id: str, record_ids: list[str]) -> None:
    """Named records must exist, be the patient's and be active; one answer for "none" and "not theirs", so a
    request cannot probe whose a record id is."""
    for rid, raw in zip(record_ids, ctx.stub.get_states([key(ctx, RECORD, r) for r in record_ids]), strict=True):
        record = load(raw) if raw else None
        if record is None or record["patient_id"] != patient_id:
            raise not_found(f"record {rid} is not a record of {patient_id}")
        if record["status"] != "active":
            raise precondition(f"record {rid} was erased: it cannot be shared")


class RequestsMixin:
    @transaction(
        "RequestConsent",
        arguments={"request_json": NEW_REQUEST},
        returns=documents.ConsentRequest,
        events=(Event.CONSENT_REQUESTED,),
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, NOT_FOUND, FAILED_PRECONDITION),
    )
    def request_consent(self, ctx: Context, request_json: str) -> dict[str, Any]:
        """A registered clinician or researcher asks a registered patient for access to records or categories,
        for purposes their role may use, until a time. An optional message travels as the transient field
        'message' (with a random 'salt'); the request keeps its salted SHA-256."""
        who = registered_caller(ctx, "clinician", "researcher")
        doc = json_object(request_json, "request")
        refuse_in_arguments(doc, "message")
        shape = Shape(doc, "request", *schema.fields(NEW_REQUEST))
        patient_id = shape.string("patient_id", member_id)
        record_ids = shape.items("record_ids", object_id, MAX_BATCH)
        categories = shape.items("categories", slug, MAX_CATEGORIES)
        purposes = sorted(shape.items("purposes", enum(PURPOSES), len(PURPOSES), min_items=1))
        valid_until = shape.string("valid_until", timestamp)
        if not record_ids and not categories:
            raise invalid("request must name record_ids or categories (or both)")
        unusable = [p for p in purposes if who.role not in PURPOSE_ROLES[p]]
        if unusable:
            raise invalid(f"a {who.role} cannot ask for the purpose(s) {', '.join(unusable)}")
        at = now(ctx)
        if valid_until <= at:
            raise invalid("request.valid_until must be in the future")
        patient = require_member(ctx, patient_id, "patient")
        if patient["role"] != "patient":
            raise invalid(f"{patient_id} is a {patient['role']}, not a patient")
        _patients_records(ctx, patient_id, record_ids)
        txid = ctx.stub.tx_id
        request: dict[str, Any] = {
            "id": "cr-" + txid[:32],
            "patient_id": patient_id,
            "requester": who.member_id,
            "requester_org": who.msp_id,
            "requester_role": who.role,
            "record_ids": record_ids,
            "categories": categories,
            "purposes": purposes,
            "valid_until": valid_until,
            "status": "pending",
            "created_at": at,
            "expires_at": iso(instant(at) + REQUEST_LIFETIME),
            "tx_id": txid,
        }
        message = _text(ctx, "message", required=False)
        if message is not None:
            salt = transient_salt(ctx)
            request.update(message_sha256=salted_sha256(salt, message), message_length=len(message))
            put_private(ctx, {"message": message, "salt": salt}, REQUEST_TEXT, request["id"])
        put_json(ctx, request, REQUEST, request["id"])
        ctx.stub.put_state(key(ctx, REQUEST_BY_PATIENT, patient_id, at, request["id"]), b"\x00")
        ctx.stub.put_state(key(ctx, REQUEST_BY_REQUESTER, who.member_id, at, request["id"]), b"\x00")
        event(ctx, Event.CONSENT_REQUESTED, summary(request, REQUEST_EVENT_FIELDS, id_as="request_id"))
        return request

    @transaction(
        "AnswerConsentRequest",
        arguments={"answer_json": ANSWER},
        returns=documents.ConsentRequest,
        events=(Event.CONSENT_REQUEST_ANSWERED,),
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, NOT_FOUND, FAILED_PRECONDITION),
    )
    def answer_consent_request(self, ctx: Context, answer_json: str) -> dict[str, Any]:
        """The patient answers a pending request of theirs: "approved" names the active grant (made after the
        request, to its requester or the requester's organization) that answers it; "declined" may say why in
        the transient field 'reason' (with a random 'salt'), kept as private data."""
        who = caller(ctx)
        require_role(who, "patient")
        doc = json_object(answer_json, "answer")
        refuse_in_arguments(doc, "reason")
        shape = Shape(doc, "answer", *schema.fields(ANSWER))
        request = require_request(ctx, shape.string("request_id"))
        patient = get_member(ctx, request["patient_id"])
        if patient is None or not is_self(who, patient):
            raise denied("only the patient asked may answer a consent request")
        decision = shape.string("decision", enum(ANSWERS))
        at = now(ctx)
        status = current_status(request, at)
        if status != "pending":
            raise precondition(f"consent request {request['id']} is {status}: it can no longer be answered")
        if decision == "approved":
            if "reason" in ctx.stub.transient:
                raise invalid("an approval has no reason: send 'reason' only when declining")
            grant = require_grant(ctx, shape.string("grant_id"))
            requester = Caller(request["requester_org"], request["requester_role"], request["requester"], ctx)
            if grant["patient_id"] != who.member_id or not is_grantee(requester, grant):
                raise invalid(f"grant {grant['id']} does not give the requester access: grant to them first")
            if grant["status"] != "active" or grant["created_at"] < request["created_at"]:
                raise invalid(f"grant {grant['id']} must be active and made after the request to answer it")
            request.update(status="approved", answered_at=at, grant_id=grant["id"])
        else:
            if "grant_id" in doc:
                raise invalid("a decline names no grant")
            request.update(status="declined", answered_at=at)
            reason = _text(ctx, "reason", required=False)
            if reason is not None:
                salt = transient_salt(ctx)
                request.update(reason_sha256=salted_sha256(salt, reason), reason_length=len(reason))
                text = get_private(ctx, REQUEST_TEXT, request["id"]) or {}
                put_private(ctx, {**text, "reason": reason, "reason_salt": salt}, REQUEST_TEXT, request["id"])
        put_json(ctx, request, REQUEST, request["id"])
        event(ctx, Event.CONSENT_REQUEST_ANSWERED, summary(request, REQUEST_EVENT_FIELDS, id_as="request_id"))
        return request

    @transaction(
        "GetConsentRequest",
        read_only=True,
        arguments={"request_id": schema.ID},
        returns=documents.ConsentRequest,
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, NOT_FOUND, FAILED_PRECONDITION),
    )
    def get_consent_request(self, ctx: Context, request_id: str) -> dict[str, Any]:
        """A request with its message and a decline's reason in words: for the patient, the requester and
        auditors of the health authority (None when this peer holds no text)."""
        who = caller(ctx)
        request = require_request(ctx, request_id)
        if not _may_read(who, request):
            raise denied("only the patient, the requester and auditors may read a consent request")
        text = get_private(ctx, REQUEST_TEXT, request["id"]) or {}
        words = {f: text.get(f) for f in _PRIVATE_FIELDS if f"{f}_sha256" in request}
        return {**_as_seen(request, now(ctx)), **words}

    @transaction(
        "ListConsentRequestsForPatient",
        read_only=True,
        arguments={"patient_id": schema.MEMBER, **schema.PAGE},
        returns=documents.Page[documents.ConsentRequest],
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, FAILED_PRECONDITION),
    )
    def list_consent_requests_for_patient(
        self, ctx: Context, patient_id: str, page_size: str, bookmark: str
    ) -> dict[str, Any]:
        """The requests made to a patient, oldest first: for the patient and auditors of the health authority."""
        who = caller(ctx)
        member_id(patient_id, "patient_id")
        if not (who.is_authority_auditor or (who.role == "patient" and who.member_id == patient_id)):
            raise denied("only the patient and auditors may list the consent requests made to a patient")
        return self._request_page(ctx, REQUEST_BY_PATIENT, patient_id, page_size, bookmark)

    @transaction(
        "ListConsentRequestsByRequester",
        read_only=True,
        arguments={"requester_id": schema.MEMBER, **schema.PAGE},
        returns=documents.Page[documents.ConsentRequest],
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, FAILED_PRECONDITION),
    )
    def list_consent_requests_by_requester(
        self, ctx: Context, requester_id: str, page_size: str, bookmark: str
    ) -> dict[str, Any]:
        """The requests a member made, oldest first: for that member and auditors of the health authority."""
        who = caller(ctx)
        member_id(requester_id, "requester_id")
        if not (who.is_authority_auditor or who.member_id == requester_id):
            raise denied("only the requester and auditors may list a member's consent requests")
        return self._request_page(ctx, REQUEST_BY_REQUESTER, requester_id, page_size, bookmark)

    @staticmethod
    def _request_page(ctx: Context, index: str, owner: str, page_size: str, bookmark: str) -> dict[str, Any]:
        requests, next_mark = index_page(ctx, index, [owner], page_size, bookmark, REQUEST)
        at = now(ctx)
        return {"items": [_as_seen(r, at) for r in requests], "bookmark": next_mark}
