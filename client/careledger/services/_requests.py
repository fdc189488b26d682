"""Consent requests: a clinician or researcher asks a patient for access, with a message; the patient approves (a
grant prefilled from the request, then the answer naming it) or declines, optionally saying why.

The message and a decline's reason go as transient data with a random salt: the ledger keeps them as private
data for the patient, the requester and auditors, and only their salted digest in public."""

from __future__ import annotations

import secrets

from careledger_protocol import ConsentRequest, Grant

from ..errors import CareLedgerError
from ..json_types import JsonArgument, Transient
from ._consent import ConsentFlows


def _with_text(name: str, text: str | None) -> Transient | None:
    return {name: text, "salt": secrets.token_hex(16)} if text else None


class RequestFlows(ConsentFlows):
    # -- the requester ------------------------------------------------------------------------------------------
    def request_consent(
        self,
        patient_id: str,
        purposes: list[str],
        valid_until: str,
        record_ids: list[str] | None = None,
        categories: list[str] | None = None,
        message: str | None = None,
    ) -> ConsentRequest:
        """Ask a patient (a bare id names one of this organization) for access to records or categories."""
        doc: dict[str, JsonArgument] = {
            "patient_id": self.qualify(patient_id),
            "purposes": list(purposes),
            "valid_until": valid_until,
        }
        if record_ids:
            doc["record_ids"] = list(record_ids)
        if categories:
            doc["categories"] = list(categories)
        made: ConsentRequest = self._submit("RequestConsent", doc, transient=_with_text("message", message))
        return made

    def my_consent_requests(self) -> list[ConsentRequest]:
        """The requests this member made, oldest first, with their status (pending, approved, declined, expired)."""
        return self.consent_requests_by(self.member_id())

    def consent_requests_by(self, requester: str) -> list[ConsentRequest]:
        """The requests a member made (the member itself, or an auditor)."""
        return self._all_pages("ListConsentRequestsByRequester", self.qualify(requester))

    # -- the patient --------------------------------------------------------------------------------------------
    def consent_requests_to(self, patient_id: str | None = None) -> list[ConsentRequest]:
        """The requests made to a patient (this member, by default), oldest first."""
        patient = self.qualify(patient_id) if patient_id else self.member_id()
        return self._all_pages("ListConsentRequestsForPatient", patient)

    def consent_request(self, request_id: str) -> ConsentRequest:
        """One request with its message and a decline's reason in words (patient, requester, auditors)."""
        request: ConsentRequest = self._evaluate("GetConsentRequest", request_id)
        return request

    def approve_consent_request(self, request_id: str, grant_id: str) -> ConsentRequest:
        """Answer a request with the grant (made after it, to its requester) that gives what it asked."""
        answer = {"request_id": request_id, "decision": "approved", "grant_id": grant_id}
        answered: ConsentRequest = self._submit("AnswerConsentRequest", answer)
        return answered

    def grant_requested(
        self,
        request_id: str,
        purposes: list[str] | None = None,
        valid_until: str | None = None,
        record_ids: list[str] | None = None,
        categories: list[str] | None = None,
    ) -> tuple[Grant, ConsentRequest]:
        """Grant what a request asked (or the narrower terms given) and answer the request with that grant."""
        request = self.consent_request(request_id)
        if request["status"] != "pending":  # checked before granting: a grant must not outlive a stale answer
            raise CareLedgerError(f"consent request {request_id} is {request['status']}: it can no longer be answered")
        if record_ids is None and categories is None:
            record_ids, categories = request["record_ids"] or None, request["categories"] or None
        grant = self.grant(
            request["requester"],
            purposes or request["purposes"],
            valid_until or request["valid_until"],
            record_ids,
            categories,
        )
        return grant, self.approve_consent_request(request_id, grant["id"])

    def decline_consent_request(self, request_id: str, reason: str | None = None) -> ConsentRequest:
        answer = {"request_id": request_id, "decision": "declined"}
        answered: ConsentRequest = self._submit("AnswerConsentRequest", answer, transient=_with_text("reason", reason))
        return answered
