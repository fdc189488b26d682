"""Access and its audit trail: ask for records for a purpose (or break the glass), the wrapped keys an
access released, who opened a patient's records, and whether an access still lets a store release one."""

from __future__ import annotations

import secrets

from careledger_protocol import AccessKeys, AccessResult, AuditEvent, Justification, Verdict

from ..json_types import JsonArgument
from ._core import SessionCore


class AccessFlows(SessionCore):
    def request_access(self, record_ids: list[str], purpose: str, on_behalf_of: str | None = None) -> AccessResult:
        """Decide and record access to up to 500 records for one purpose; the keys follow from access_keys.
        `on_behalf_of`: the patient this member acts for as their proxy (the ledger checks the proxy's rights)."""
        request: dict[str, JsonArgument] = {"record_ids": list(record_ids), "purpose": purpose}
        if on_behalf_of:
            request["on_behalf_of"] = self.qualify(on_behalf_of)
        result: AccessResult = self._submit("RequestAccess", request)
        return result

    def emergency_access(self, record_ids: list[str], justification: str) -> AccessResult:
        """Break-glass. The justification goes as transient data with a random salt: the ledger keeps it as
        private data for the patients and auditors, and only its salted digest in public."""
        transient = {"justification": justification, "salt": secrets.token_hex(16)}
        result: AccessResult = self._submit("EmergencyAccess", {"record_ids": record_ids}, transient=transient)
        return result

    def access_keys(self, access_tx_id: str) -> AccessKeys:
        """The wrapped keys this member's committed access transaction released (within its window)."""
        keys: AccessKeys = self._evaluate("GetAccessKeys", access_tx_id)
        return keys

    def access_log(self, patient_id: str | None = None) -> list[AuditEvent]:
        """Every decision on a patient's records (this member's own, by default), oldest first."""
        patient = self.qualify(patient_id) if patient_id else self.member_id()
        return self._all_pages("ListAccessByPatient", patient)

    def access_by(self, requester: str) -> list[AuditEvent]:
        """Every decision on the requests of one member, oldest first."""
        return self._all_pages("ListAccessByRequester", self.qualify(requester))

    def all_access(self, page_size: int = 100) -> list[AuditEvent]:
        """The whole access trail (the health authority's auditors)."""
        return self._all_pages("ListAllAccess", page_size=page_size)

    def verify_access(self, access_tx_id: str, requester: str, record_id: str) -> Verdict:
        """Would the record's store release its current ciphertext to `requester` under this access now?"""
        verdict: Verdict = self._evaluate("VerifyAccess", access_tx_id, self.qualify(requester), record_id)
        return verdict

    def justification(self, access_tx_id: str) -> Justification:
        """The words of a break-glass justification (its requester, the patients concerned, auditors)."""
        text: Justification = self._evaluate("GetJustification", access_tx_id)
        return text
