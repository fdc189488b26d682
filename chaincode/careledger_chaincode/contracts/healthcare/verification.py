"""Verification of an access transaction, for the record stores: may the custodian's store release a record's
current ciphertext to the requester now? (VerifyAccess, and VerifyAccessBatch for a store releasing a batch.)

A committed access transaction is a capability that ends (policy.release_refusal); the store asks again at
release, and checks the window and the consent's end with its own clock too.
"""

from __future__ import annotations

import json
from typing import Any

from careledger_protocol import (
    FAILED_PRECONDITION,
    INVALID_ARGUMENT,
    NOT_AUTHORIZED,
    NOT_FOUND,
    UNKNOWN_ACCESS,
    ProxyRight,
    documents,
)

from ...runtime import ChaincodeError, Context, transaction
from . import _schemas as schema
from ._arguments import MAX_BATCH, object_id, tx_id
from ._caller import caller, member_id
from ._compromised import release_refusal as key_release_refusal
from ._proxy import proxy_refusal
from ._refusals import denied
from ._state import get_json, get_many_json, key, load
from ._time import now, window_end
from .access import ACCESS
from .members import get_member
from .policy import consent_still_allows, is_custodian_staff, release_refusal
from .records import GRANT, RECORD, require_record


class VerificationMixin:
    def _verdicts(
        self, ctx: Context, access: dict[str, Any] | None, requester_id: str, records: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """May the custodian's store release each record's current ciphertext to the requester now?

        What every record of the batch shares (the requester's member entry, the time, the consents the
        decisions rested on) is read once: a store asks about up to MAX_BATCH records in one query."""
        if access is None:
            unknown = {
                "granted": False,
                "code": UNKNOWN_ACCESS,
                "reason": "no committed access transaction with this id",
            }
            return [unknown for _ in records]
        if access["requester"] != requester_id:
            return [{"granted": False, "reason": "that transaction was made by another requester"} for _ in records]
        decided = {d["record_id"]: d for d in access["decisions"]}
        allowed = set(access["allowed"])
        at = now(ctx)
        refused_member = key_release_refusal(get_member(ctx, requester_id))
        consents: dict[str, str] = access.get("consents", {})
        grants = get_many_json(ctx, GRANT, sorted({consents[r["id"]] for r in records if r["id"] in consents}))
        return [
            self._verdict(
                ctx,
                access,
                requester_id,
                record,
                decided.get(record["id"]) if record["id"] in allowed else None,
                at,
                refused_member,
                grants.get(consents.get(record["id"], "")),
            )
            for record in records
        ]

    def _verdict(
        self,
        ctx: Context,
        access: dict[str, Any],
        requester_id: str,
        record: dict[str, Any],
        decided: dict[str, Any] | None,
        at: str,
        refused_member: str | None,
        grant: dict[str, Any] | None,
    ) -> dict[str, Any]:
        if decided is None:
            return {"granted": False, "reason": "that transaction did not grant this record"}
        refusal = release_refusal(access, record, decided, at) or refused_member
        if refusal:
            return {"granted": False, "reason": refusal}
        if access.get("on_behalf_of") == record["patient_id"]:  # a proxy's access rests on its relation
            why = proxy_refusal(ctx, requester_id, record["patient_id"], ProxyRight.VIEW)
            if why:
                return {"granted": False, "reason": why}
        elif not consent_still_allows(access, record, grant, at):
            return {"granted": False, "reason": "the consent this access rested on is no longer active"}
        return {
            "granted": True,
            "reason": "granted",
            "requester_org": access["requester_org"],
            "purpose": access["purpose"],
            "emergency": access["emergency"],
            "time": access["time"],
            # The store checks both with its own clock: the window, and the consent's end.
            "open_until": window_end(access["time"]),
            "consent_valid_until": grant["valid_until"] if grant else "",
            "version": record["version"],
            "ciphertext_sha256": record["ciphertext_sha256"],
        }

    @transaction(
        "VerifyAccess",
        read_only=True,
        arguments={"access_tx_id": schema.TX_ID, "requester_id": schema.MEMBER, "record_id": schema.ID},
        returns=documents.Verdict,
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, NOT_FOUND, FAILED_PRECONDITION),
    )
    def verify_access(self, ctx: Context, access_tx_id: str, requester_id: str, record_id: str) -> dict[str, Any]:
        """Does the committed transaction `access_tx_id` let `requester_id` have the record's current
        ciphertext now? (for record stores; the requester and auditors may ask too)"""
        who = caller(ctx)
        txid = tx_id(access_tx_id, "access_tx_id")
        member_id(requester_id, "requester_id")
        record = require_record(ctx, object_id(record_id, "record_id"))
        if not (who.is_authority_auditor or is_custodian_staff(who, record) or who.member_id == requester_id):
            raise denied("only the record's custodian, the requester and auditors may verify an access")
        return self._verdicts(ctx, get_json(ctx, ACCESS, txid), requester_id, [record])[0]

    @transaction(
        "VerifyAccessBatch",
        read_only=True,
        arguments={
            "access_tx_id": schema.TX_ID,
            "requester_id": schema.MEMBER,
            "record_ids_json": schema.list_of(schema.ID, MAX_BATCH, min_items=1, unique=False),
        },
        returns=documents.Verdicts,
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, FAILED_PRECONDITION),
    )
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
        ids = [object_id(r, "record_id") for r in record_ids]
        access = get_json(ctx, ACCESS, txid)
        records = [load(r) if r else None for r in ctx.stub.get_states([key(ctx, RECORD, r) for r in ids])]
        verdicts: dict[str, Any] = {}
        custodied: list[dict[str, Any]] = []
        for rid, record in zip(ids, records, strict=True):
            if record is None:
                verdicts[rid] = {"granted": False, "reason": "no such record"}
            elif not (who.is_authority_auditor or is_custodian_staff(who, record)):
                verdicts[rid] = {"granted": False, "reason": "you are not this record's custodian"}
            else:
                custodied.append(record)
        verdicts.update(
            (record["id"], verdict)
            for record, verdict in zip(custodied, self._verdicts(ctx, access, requester_id, custodied), strict=True)
        )
        return {"access_tx_id": txid, "verdicts": {rid: verdicts[rid] for rid in ids}}
