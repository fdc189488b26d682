"""Break-glass from a patient page: an emergency access to a patient's records (all, or of some categories)
without naming them.

A clinician without the patient's consent sees none of the patient's records (policy.may_see_metadata), so
cannot pick them by id; in an emergency the ledger picks them: every active record of the patient (in the
categories named), at most MAX_BATCH. The access is then exactly an EmergencyAccess of those records: the same
decisions, audit events, justification (transient, private, salted SHA-256 in public), window and indexes for
its review and the custodians' key release (access.py, emergencies.py).
"""

from __future__ import annotations

from typing import Any, cast

from careledger_protocol import (
    FAILED_PRECONDITION,
    INVALID_ARGUMENT,
    NOT_AUTHORIZED,
    NOT_FOUND,
    Event,
    Purpose,
    documents,
)

from ...runtime import Context, transaction
from . import _schemas as schema
from ._arguments import MAX_BATCH, Shape, json_object, refuse_in_arguments, slug
from ._caller import caller, member_id, require_role
from ._refusals import invalid, precondition
from ._state import key, load
from .access import AccessMixin, _justification
from .consent import MAX_CATEGORIES
from .members import require_member
from .records import PATIENT_RECORD, RECORD

PATIENT_EMERGENCY = schema.object_of(
    {"patient_id": schema.MEMBER}, {"categories": schema.list_of(schema.SLUG, MAX_CATEGORIES)}
)


class BreakGlassMixin:
    @transaction(
        "EmergencyAccessForPatient",
        arguments={"request_json": PATIENT_EMERGENCY},
        returns=documents.AccessResult,
        events=(Event.ACCESS_REQUESTED,),
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, NOT_FOUND, FAILED_PRECONDITION),
    )
    def emergency_access_for_patient(self, ctx: Context, request_json: str) -> dict[str, Any]:
        """Break-glass on a patient's active records (all, or those of the categories named; at most 500), with
        a written justification as the transient field 'justification' and a random 'salt'."""
        who = caller(ctx)
        require_role(who, "clinician")
        doc = json_object(request_json, "request")
        refuse_in_arguments(doc, "justification")
        shape = Shape(doc, "request", *schema.fields(PATIENT_EMERGENCY))
        patient_id = shape.string("patient_id", member_id)
        categories = set(shape.items("categories", slug, MAX_CATEGORIES))
        patient = require_member(ctx, patient_id, "patient")
        if patient["role"] != "patient":
            raise invalid(f"{patient_id} is a {patient['role']}, not a patient")
        justification = _justification(ctx)
        rows = ctx.stub.get_state_by_partial_composite_key(PATIENT_RECORD, [patient_id])
        ids = [ctx.stub.split_composite_key(k)[1][1] for k, _ in rows]
        records = [load(r) for r in ctx.stub.get_states([key(ctx, RECORD, i) for i in ids]) if r]
        chosen = [
            r["id"] for r in records if r["status"] == "active" and (not categories or r["category"] in categories)
        ]
        if not chosen:
            raise precondition(f"{patient_id} has no active records" + (" in those categories" if categories else ""))
        if len(chosen) > MAX_BATCH:
            raise invalid(f"{patient_id} has more than {MAX_BATCH} such records: name categories to open fewer")
        access = cast(AccessMixin, self)  # the contract is every mixin at once; the decisions are access.py's
        return access._record_decisions(ctx, who, chosen, Purpose.TREATMENT, justification=justification)
