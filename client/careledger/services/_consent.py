"""Consent and transparency: a patient's records, grants (the record keys re-wrapped for the grantee) and
revocations, the grants naming a member, a patient's access log."""

from __future__ import annotations

from typing import Any

from .. import crypto
from ..errors import CareLedgerError, NotFoundError
from ._core import SessionCore


class ConsentFlows(SessionCore):
    # -- patient -----------------------------------------------------------------------------------------------
    def my_records(self, page_size: int = 100) -> list[dict[str, Any]]:
        return self.all_pages("ListPatientRecords", self.member_id(), page_size=page_size)

    def grants_to_me(self) -> list[dict[str, Any]]:
        """Grants naming this member or its organization as grantee (any status)."""
        grants = self.all_pages("ListGrantsByGrantee", self.member_id())
        return grants + self.all_pages("ListGrantsByGrantee", f"org:{self.gateway.msp_id}")

    def grant(
        self,
        grantee: str,
        purposes: list[str],
        valid_until: str,
        record_ids: list[str] | None = None,
        categories: list[str] | None = None,
    ) -> dict[str, Any]:
        """Grant consent; the record keys in scope are opened with the patient's key and re-wrapped for the grantee."""
        grantee = self.qualify(grantee)
        grantee_key = self.evaluate("GetMember", grantee)["public_key"]
        scope = set(record_ids or [])
        if categories:
            scope |= {r["id"] for r in self.my_records() if r["category"] in categories and r["status"] == "active"}
        wrapped: dict[str, Any] = {}
        if scope:
            access = self.request_access(sorted(scope), "treatment")  # the patient's own records: audited, allowed
            for decision in access["decisions"]:
                if decision["reason"] == "no such record":
                    raise NotFoundError(f"record {decision['record_id']} does not exist")
                if decision["decision"] != "allowed":
                    raise CareLedgerError(f"cannot share {decision['record_id']}: {decision['reason']}")
            keys = self.evaluate("GetAccessKeys", access["tx_id"])["keys"]
            for rid in sorted(scope):
                entry = keys[rid]
                if not entry["available"]:
                    raise CareLedgerError(f"cannot share {rid}: {entry['reason']}")
                ref = crypto.RecordRef(rid, entry.get("sealed_for", entry["patient_id"]), entry["version"])
                wrapped[rid] = crypto.rewrap_key(entry["wrapped_key"], ref, self.encryption_key(), grantee_key, grantee)
        doc: dict[str, Any] = {"grantee": grantee, "purposes": purposes, "valid_until": valid_until}
        if record_ids:
            doc["record_ids"] = record_ids
        if categories:
            doc["categories"] = categories
        return dict(self.submit("GrantConsent", doc, transient={"wrapped_keys": wrapped}))

    def revoke(self, grant_id: str) -> dict[str, Any]:
        return dict(self.submit("RevokeConsent", grant_id))

    def access_log(self, patient_id: str | None = None) -> list[dict[str, Any]]:
        return self.all_pages("ListAccessByPatient", self.qualify(patient_id) if patient_id else self.member_id())
