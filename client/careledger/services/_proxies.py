"""Proxies: a patient names a person who may act for them (view, grant, revoke) until an end date, or a
hospital admin names one for a patient of that hospital; a proxy lists whom they act for and acts for them.

Naming a proxy with the view right re-wraps the keys of the patient's active records for the proxy (opened
with the patient's key, as a grant does), so that the proxy opens them with their own key; a hospital admin
cannot open them and names the proxy without keys (the patient's later records are keyed for the proxy by the
clinician who creates them). Acting for a patient: the `on_behalf_of` of grant, request_access and
open_records_for; the other views take the patient's id (records_of, grants_of, access_log)."""

from __future__ import annotations

from careledger_protocol import PROXY_RIGHTS, Proxy, ProxyRight, Purpose

from .. import crypto
from ..errors import CareLedgerError
from ..json_types import JsonArgument
from ._consent import ConsentFlows
from ._core import OpenedRecord, Refused, SealedRecord


class ProxyFlows(ConsentFlows):
    # -- naming and ending ---------------------------------------------------------------------------------------
    def name_proxy(
        self, proxy: str, rights: list[str], valid_until: str, patient: str | None = None, valid_from: str | None = None
    ) -> Proxy:
        """Name `proxy` for `patient` (this member, by default; an admin names one for a patient of its
        hospital). With the view right, a patient's active records' keys are re-wrapped for the proxy."""
        unknown = sorted(set(rights) - set(PROXY_RIGHTS))
        if unknown:
            raise CareLedgerError(f"unknown proxy right(s) {', '.join(unknown)}: choose from {', '.join(PROXY_RIGHTS)}")
        proxy_id = self.qualify(proxy)
        patient_id = self.qualify(patient) if patient else self.member_id()
        wrapped: dict[str, JsonArgument] = {}
        if ProxyRight.VIEW in rights and patient_id == self.member_id():
            wrapped = self._keys_for(proxy_id, [r["id"] for r in self.records_of() if r["status"] == "active"])
        doc: dict[str, JsonArgument] = {
            "patient_id": patient_id,
            "proxy_id": proxy_id,
            "rights": sorted(set(rights)),
            "valid_until": valid_until,
        }
        if valid_from:
            doc["valid_from"] = valid_from
        named: Proxy = self._submit("SetProxy", doc, transient={"wrapped_keys": wrapped})
        return named

    def _keys_for(self, recipient: str, record_ids: list[str]) -> dict[str, JsonArgument]:
        """This patient's record keys, opened with their own key and re-wrapped for `recipient`."""
        if not record_ids:
            return {}
        recipient_key = self.member(recipient)["public_key"]
        access = self.request_access(record_ids, Purpose.TREATMENT)  # the patient's own records: audited, allowed
        keys = self.access_keys(access["tx_id"])["keys"]
        wrapped: dict[str, JsonArgument] = {}
        for rid in record_ids:
            entry = keys[rid]
            if not entry["available"]:
                raise CareLedgerError(f"cannot share {rid} with the proxy: {entry.get('reason', 'no key')}")
            ref = crypto.RecordRef(rid, entry.get("sealed_for", entry["patient_id"]), entry["version"])
            wrapped[rid] = crypto.rewrap_key(entry["wrapped_key"], ref, self.encryption_key(), recipient_key)
        return wrapped

    def revoke_proxy(self, proxy: str, patient: str | None = None) -> Proxy:
        """End a proxy's rights (the patient, their hospital's admin, or the proxy stepping down: then
        `proxy` is this member and `patient` the patient)."""
        patient_id = self.qualify(patient) if patient else self.member_id()
        revoked: Proxy = self._submit("RevokeProxy", patient_id, self.qualify(proxy))
        return revoked

    # -- listings ----------------------------------------------------------------------------------------------
    def proxies_of(self, patient: str | None = None) -> list[Proxy]:
        """A patient's proxies, any status (this member's own, by default)."""
        patient_id = self.qualify(patient) if patient else self.member_id()
        return self._all_pages("ListProxiesOfPatient", patient_id)

    def patients_i_act_for(self, active_only: bool = False) -> list[Proxy]:
        """This member's proxy relations: whom they may act for, with which rights, until when."""
        relations: list[Proxy] = self._all_pages("ListPatientsIActFor")
        return [r for r in relations if r["status"] == "active"] if active_only else relations

    # -- acting for a patient ------------------------------------------------------------------------------------
    def open_records_for(self, patient: str, record_ids: list[str]) -> list[OpenedRecord | Refused]:
        """Open a patient's records as their proxy (view right): the ledger records "by me for the patient"."""
        result = self.request_access(record_ids, Purpose.TREATMENT, on_behalf_of=patient)
        return [self.decrypt(item) if isinstance(item, SealedRecord) else item for item in self.fetch_allowed(result)]
