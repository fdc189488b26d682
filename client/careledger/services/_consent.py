"""Consent: grants (the record keys re-wrapped for the grantee) and revocations, a patient's grants and the
grants naming a member."""

from __future__ import annotations

from careledger_protocol import Grant, HistoryEntry, Purpose, Record

from .. import crypto
from ..errors import CareLedgerError, NotFoundError
from ..json_types import JsonArgument
from ._records import RecordFlows


class ConsentFlows(RecordFlows):
    def my_records(self, page_size: int = 100) -> list[Record]:
        return self.records_of(page_size=page_size)

    def grants_of(self, patient_id: str | None = None) -> list[Grant]:
        """A patient's grants (this member's own, by default), any status."""
        patient = self.qualify(patient_id) if patient_id else self.member_id()
        return self._all_pages("ListGrantsByPatient", patient)

    def grants_to(self, grantee: str) -> list[Grant]:
        """Grants naming a member (or an organization, `org:<MSP>`) as grantee, any status."""
        return self._all_pages("ListGrantsByGrantee", self.qualify(grantee))

    def grants_to_me(self) -> list[Grant]:
        """Grants naming this member or its organization as grantee (any status)."""
        return self.grants_to(self.member_id()) + self.grants_to(f"org:{self.gateway.identity.msp_id}")

    def grant_history(self, grant_id: str) -> list[HistoryEntry]:
        history: list[HistoryEntry] = self._evaluate("GetGrantHistory", grant_id)
        return history

    def grant(
        self,
        grantee: str,
        purposes: list[str],
        valid_until: str,
        record_ids: list[str] | None = None,
        categories: list[str] | None = None,
        on_behalf_of: str | None = None,
    ) -> Grant:
        """Grant consent; the record keys in scope are opened with the patient's key (or, for a proxy granting
        `on_behalf_of` a patient, the proxy's own) and re-wrapped for the grantee."""
        grantee = self.qualify(grantee)
        grantee_key = self.member(grantee)["public_key"]
        patient = self.qualify(on_behalf_of) if on_behalf_of else None
        scope = set(record_ids or [])
        if categories:
            mine = self.records_of(patient) if patient else self.my_records()
            scope |= {r["id"] for r in mine if r["category"] in categories and r["status"] == "active"}
        wrapped: dict[str, JsonArgument] = {}
        if scope:
            # the patient's own records (or the proxy's, for the patient): audited, allowed
            access = self.request_access(sorted(scope), Purpose.TREATMENT, on_behalf_of=patient)
            for decision in access["decisions"]:
                if decision["reason"] == "no such record":
                    raise NotFoundError(f"record {decision['record_id']} does not exist")
                if decision["decision"] != "allowed":
                    raise CareLedgerError(f"cannot share {decision['record_id']}: {decision['reason']}")
            keys = self.access_keys(access["tx_id"])["keys"]
            for rid in sorted(scope):
                entry = keys[rid]
                if not entry["available"]:
                    raise CareLedgerError(f"cannot share {rid}: {entry.get('reason', 'no key')}")
                ref = crypto.RecordRef(rid, entry.get("sealed_for", entry["patient_id"]), entry["version"])
                wrapped[rid] = crypto.rewrap_key(entry["wrapped_key"], ref, self.encryption_key(), grantee_key)
        doc: dict[str, JsonArgument] = {"grantee": grantee, "purposes": list(purposes), "valid_until": valid_until}
        if record_ids:
            doc["record_ids"] = list(record_ids)
        if categories:
            doc["categories"] = list(categories)
        if patient:
            doc["on_behalf_of"] = patient
        granted: Grant = self._submit("GrantConsent", doc, transient={"wrapped_keys": wrapped})
        return granted

    def revoke(self, grant_id: str) -> Grant:
        revoked: Grant = self._submit("RevokeConsent", grant_id)
        return revoked
