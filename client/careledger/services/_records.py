"""Records: create (ledger first, then the ciphertext to the store), open (access, fetch and check the
ciphertexts against the ledger, decrypt), rotate a record's key, erase; a record's metadata and history."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from careledger_protocol import AccessKey, AccessResult, CustodyEntry, HistoryEntry, Purpose, Recipient, Record

from .. import crypto, fhir
from ..errors import CareLedgerError, IntegrityError
from ..json_types import JsonArgument
from ..record_content import stamped
from ..store import StoreError
from ._access import AccessFlows
from ._core import OpenedRecord, Refused, SealedRecord


class RecordFlows(AccessFlows):
    # -- metadata ----------------------------------------------------------------------------------------------
    def record(self, record_id: str) -> Record:
        """A record's metadata (never its content)."""
        record: Record = self._evaluate("GetRecord", record_id)
        return record

    def records_of(self, patient_id: str | None = None, page_size: int = 100) -> list[Record]:
        """A patient's records (this member's own, by default) that this member may see."""
        patient = self.qualify(patient_id) if patient_id else self.member_id()
        return self._all_pages("ListPatientRecords", patient, page_size=page_size)

    def custodian_records(self, page_size: int = 500) -> list[CustodyEntry]:
        """As an organization's admin: every record whose ciphertext its store keeps (id, version, status, the
        current ciphertext's SHA-256), what the store's scrub checks it against."""
        return self._all_pages("ListCustodianRecords", page_size=page_size)

    def record_history(self, record_id: str) -> list[HistoryEntry]:
        """Every committed value of a record's metadata, newest first."""
        history: list[HistoryEntry] = self._evaluate("GetRecordHistory", record_id)
        return history

    def _recipients(self, function: str, *args: str) -> list[Recipient]:
        recipients: list[Recipient] = self._evaluate(function, *args)
        return recipients

    # -- clinician ---------------------------------------------------------------------------------------------
    def create_record(
        self, patient_id: str, resource: dict[str, Any], category: str, record_id: str | None = None
    ) -> Record:
        """Validate, encrypt, wrap for every entitled recipient, register on the ledger, then store the
        ciphertext at this org's store (which accepts only the ciphertext the ledger names)."""
        clean = fhir.validate(stamped(resource))  # a title and a date inside the content (record_content)
        patient_id = self.qualify(patient_id)
        record_id = record_id or f"rec-{uuid.uuid4().hex}"
        ref = crypto.RecordRef(record_id, patient_id, 1)
        key = crypto.new_record_key()
        blob = crypto.seal(fhir.canonical_bytes(clean), key, ref)
        recipients = self._recipients("GetNewRecordRecipients", patient_id, category)
        own_msp = self.gateway.identity.msp_id
        address = crypto.content_address(blob)
        doc = {
            "record_id": record_id,
            "patient_id": patient_id,
            "category": category,
            "resource_type": clean["resourceType"],
            "ciphertext_sha256": address,
            "size": len(blob),
            "locator": f"{own_msp}/sha256/{address}",
        }
        wrapped = {r["id"]: crypto.wrap_key(key, ref, r["public_key"]) for r in recipients}
        record: Record = self._submit("CreateRecord", doc, transient={"wrapped_keys": wrapped})
        self.store(own_msp).put(blob, record_id)
        return record

    def open_records(
        self, record_ids: list[str], purpose: str = Purpose.TREATMENT, emergency_justification: str | None = None
    ) -> list[OpenedRecord | Refused]:
        """Request access (recorded on the ledger), fetch the allowed ciphertexts, check them, decrypt.

        Denied records are never fetched or decrypted."""
        if emergency_justification:
            result = self.emergency_access(record_ids, emergency_justification)
        else:
            result = self.request_access(record_ids, purpose)
        return [self.decrypt(item) if isinstance(item, SealedRecord) else item for item in self.fetch_allowed(result)]

    def fetch_allowed(self, result: AccessResult) -> list[SealedRecord | Refused]:
        """The keys (GetAccessKeys) and checked ciphertexts of the records an access transaction allowed,
        in its order; refusals say why. Nothing is decrypted yet (see decrypt)."""
        txid = result["tx_id"]
        allowed = [d for d in result["decisions"] if d["decision"] == "allowed"]
        by_custodian: dict[str, dict[str, str | None]] = {}
        for decision in allowed:
            if decision.get("key_available", True):  # no key for us (emergency at another org): no fetch
                by_custodian.setdefault(decision["custodian"], {})[decision["record_id"]] = None
        keys: dict[str, AccessKey] = {}
        blobs: dict[str, bytes | StoreError] = {}
        if allowed:
            # The keys and the ciphertexts are asked for at once; each blob is then checked against the
            # SHA-256 the ledger gives with its key, so the store is trusted for nothing.
            fetches = [self._fetchers.submit(self.store(c).get_many, w, txid) for c, w in by_custodian.items()]
            keys = self.access_keys(txid)["keys"]
            for fetch in fetches:
                blobs.update(fetch.result())
        items: list[SealedRecord | Refused] = []
        for decision in result["decisions"]:
            rid = decision["record_id"]
            if decision["decision"] != "allowed":
                items.append(Refused(rid, decision["reason"]))
                continue
            entry = keys[rid]
            if not entry["available"]:
                items.append(Refused(rid, entry.get("reason", "no key")))
                continue
            blob = blobs.get(rid)
            if not isinstance(blob, bytes):  # allowed by the ledger, refused, missing or not asked at the store
                items.append(Refused(rid, f"custodian store: {blob or 'not fetched'}"))
                continue
            if crypto.content_address(blob) != entry["ciphertext_sha256"]:  # checked against the ledger, not the store
                raise IntegrityError(f"record {rid}: the ciphertext does not match the ledger's SHA-256")
            items.append(
                SealedRecord(rid, entry.get("sealed_for", entry["patient_id"]), entry["version"], entry, blob, txid)
            )
        return items

    def decrypt(self, sealed: SealedRecord) -> OpenedRecord:
        """Unwrap the record key and open the ciphertext (its integrity and binding to the record are checked)."""
        return open_sealed(sealed, self._unwrap)

    def rotate_record(self, record_id: str) -> Record:
        """Re-encrypt a record under a new key for its current recipients (after a revocation)."""
        opened = [o for o in self.open_records([record_id], Purpose.TREATMENT) if isinstance(o, OpenedRecord)]
        if not opened:
            raise CareLedgerError(f"cannot open {record_id} to rotate its key")
        record = self.record(record_id)
        recipients = self._recipients("GetRecipients", record_id)
        ref = crypto.RecordRef(record_id, record["patient_id"], record["version"] + 1)
        key = crypto.new_record_key()
        blob = crypto.seal(fhir.canonical_bytes(opened[0].resource), key, ref)
        address = crypto.content_address(blob)
        version: dict[str, JsonArgument] = {
            "ciphertext_sha256": address,
            "size": len(blob),
            "locator": f"{record['custodian']}/sha256/{address}",
        }
        wrapped = {r["id"]: crypto.wrap_key(key, ref, r["public_key"]) for r in recipients}
        added: Record = self._submit("AddRecordVersion", record_id, version, transient={"wrapped_keys": wrapped})
        self.store(record["custodian"]).put(blob, record_id)
        return added

    def erase(self, record_id: str) -> Record:
        """Crypto-shredding: drop every wrapped key on the ledger, then destroy the ciphertexts at the custodian."""
        history = self.record_history(record_id)
        erased: Record = self._submit("EraseRecord", record_id)
        addresses = {(h.get("value") or {}).get("ciphertext_sha256") for h in history} - {None}
        for address in sorted(a for a in addresses if a):
            self.store(erased["custodian"]).delete(address, record_id)
        return erased


def open_sealed(sealed: SealedRecord, unwrap: Callable[[AccessKey, crypto.RecordRef], bytes]) -> OpenedRecord:
    """RecordFlows.decrypt with the key unwrapping given (the session's, or a scoring process's with the keys
    it holds): the ciphertext's integrity and its binding to the record, patient and version are checked."""
    ref = crypto.RecordRef(sealed.record_id, sealed.patient_id, sealed.version)
    plaintext = crypto.open_blob(sealed.blob, unwrap(sealed.key_entry, ref), ref)
    return OpenedRecord(
        sealed.record_id,
        sealed.patient_id,
        sealed.version,
        json.loads(plaintext),
        sealed.access_tx_id,
        sealed.key_entry["ciphertext_sha256"],
    )
