"""Records: create (ledger first, then the ciphertext to the store, through the upload outbox), open
(access, fetch and check the ciphertexts against the ledger, decrypt), rotate a record's key, erase; a
record's metadata and history.

A store accepts only a ciphertext the ledger already names, so a new record (or version) is registered
before its ciphertext is uploaded. So that a failed upload loses nothing, the ciphertext is first kept in
the organization's upload outbox (_outbox.py), beside its wallets: `<state>/outbox/<org key>/<custodian
MSP>/<record id>.v<version>.<sha256>` (mode 0600; the profile's x-careledger.outbox may name another folder,
see careledger.connection.outbox_dir). The upload removes it. When the upload fails, create_record and
rotate_record raise UploadPendingError (the record is registered; its ciphertext waits in the outbox) and
flush_outbox uploads it later: `careledger record flush`, the hospital app's background job each round, and
the next create or rotate with that outbox."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

from careledger_protocol import AccessKey, AccessResult, CustodyEntry, HistoryEntry, Purpose, Recipient, Record

from .. import crypto, fhir
from ..errors import (
    CareLedgerError,
    CommitError,
    EndorseError,
    GatewayError,
    IdentityError,
    IntegrityError,
    NotFound,
    UploadPendingError,
)
from ..json_types import JsonArgument
from ..record_content import stamped
from ..store import NotOnLedger, StoreError
from ._access import AccessFlows
from ._core import OpenedRecord, Refused, SealedRecord
from ._outbox import Entry, Held

log = logging.getLogger(__name__)
# An outbox entry that a store refused as not named by the ledger is dropped only once it is this old, and
# only if the ledger, asked by this session, agrees: a transaction whose commit status was lost may still
# commit, and a store's peer may be blocks behind. Until then it is kept, and tried again.
UNNAMED_GRACE_SECONDS = 600.0


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

        def register() -> Record:
            record: Record = self._submit("CreateRecord", doc, transient={"wrapped_keys": wrapped})
            return record

        return self._register_and_upload(own_msp, ref, blob, register)

    # -- the upload outbox -------------------------------------------------------------------------------------
    def _register_and_upload(
        self, custodian: str, ref: crypto.RecordRef, blob: bytes | bytearray, register: Callable[[], Record]
    ) -> Record:
        """Keep the ciphertext in the outbox, register it on the ledger (`register`), upload it to the
        custodian's store and take it out of the outbox. Raises UploadPendingError when the upload fails."""
        held = self.outbox.keep(custodian, ref.record_id, ref.version, blob)  # before the ledger hears of it
        try:
            record = register()
        except (EndorseError, CommitError):  # not endorsed (a refusal), or committed invalid: nothing registered
            held.remove()
            raise
        except BaseException:  # the orderer or the commit status did not answer: it may be registered, so kept
            held.release()
            raise
        with held:
            self._flush_opportunistically(held)
            try:
                self.store(custodian).put(blob, ref.record_id)
            except CareLedgerError as exc:  # the store refused or failed, or no store is known for the custodian
                raise UploadPendingError(
                    f"record {ref.record_id} v{ref.version} is registered on the ledger, but its ciphertext did not "
                    f"reach the record store of {custodian} ({exc}). The ciphertext is kept in the upload outbox "
                    f"({held.entry.path}) and will be uploaded by `careledger record flush`, the hospital app's "
                    "background job, or the next record created here.",
                    record,
                    held.entry.path,
                ) from exc
            held.remove()
        return record

    def _flush_opportunistically(self, own: Held) -> None:
        """Upload what earlier calls left in the outbox (only when something else is waiting there)."""
        if not self.outbox.has_entries(besides=own.entry.path):
            return
        try:
            self.flush_outbox()
        except (CareLedgerError, GatewayError, OSError) as exc:  # the next call, or a flush, tries again
            log.warning("the upload outbox could not be flushed: %s", type(exc).__name__)

    def flush_outbox(self) -> int:
        """Upload the ciphertexts waiting in this organization's outbox to their custodians' stores; how many
        were uploaded. The stores check each against the ledger as ever. An entry the store refuses as not
        named by the ledger (NotOnLedger: its CreateRecord never committed, the record was erased or has a
        newer version) is dropped once it is UNNAMED_GRACE_SECONDS old and this session's ledger agrees; any
        other failure keeps it for the next flush. Entries still in flight in some process are left to it.
        Only counts are logged."""
        done: dict[str, int] = {"uploaded": 0, "dropped": 0, "damaged": 0}
        unreachable: set[str] = set()
        for entry in self.outbox.entries():
            if entry.custodian in unreachable or not self._may_upload_to(entry.custodian):
                continue
            held = self.outbox.claim(entry)
            if held is None:  # in flight: its creator uploads it
                continue
            with held:
                outcome = self._flush_entry(held)
            if outcome == "unreachable":  # one timeout per store and round, not one per entry
                unreachable.add(entry.custodian)
            elif outcome in done:
                done[outcome] += 1
        if done["dropped"]:
            log.warning(
                "dropped %d ciphertext(s) from the upload outbox: the ledger names none of them", done["dropped"]
            )
        if done["damaged"]:
            log.warning(
                "%d ciphertext(s) in the upload outbox are unreadable or not their SHA-256: kept, not uploaded",
                done["damaged"],
            )
        if done["uploaded"]:
            log.info("uploaded %d ciphertext(s) from the upload outbox", done["uploaded"])
        return done["uploaded"]

    def pending_uploads(self) -> int:
        """How many ciphertexts wait in this organization's outbox (for any custodian, in flight or not)."""
        return self.outbox.pending()

    def _flush_entry(self, held: Held) -> str:
        entry = held.entry
        try:
            blob = held.read()
        except OSError:  # unreadable (permissions, a failing disk): kept for whoever looks
            return "damaged"
        if crypto.content_address(blob) != entry.address:
            return "damaged"
        try:
            self.store(entry.custodian).put(blob, entry.record_id)
        except NotOnLedger:
            if held.age() >= UNNAMED_GRACE_SECONDS and not self._ledger_names(entry):
                held.remove()
                return "dropped"
            return "kept"
        except StoreError as exc:
            return "unreachable" if exc.status == 0 or exc.status >= 500 else "kept"
        except CareLedgerError:  # no store known for that custodian
            return "unreachable"
        held.remove()
        return "uploaded"

    def _ledger_names(self, entry: Entry) -> bool:
        """Does the ledger, as this session's peer has it, name this ciphertext as its record's current one?
        True also when it cannot tell."""
        try:
            record = self.record(entry.record_id)
        except NotFound:
            return False
        except (CareLedgerError, GatewayError):
            return True
        return record["status"] != "erased" and record["ciphertext_sha256"] == entry.address

    def _may_upload_to(self, custodian: str) -> bool:
        """A store takes uploads from its own organization's staff and from a record's patient: entries for
        another organization's store (a patient's new versions there) are tried by patients only."""
        if custodian == self.gateway.identity.msp_id:
            return True
        try:
            return self.wallet.metadata(self.user).get("role") == "patient"
        except IdentityError:
            return False

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

        def register() -> Record:
            added: Record = self._submit("AddRecordVersion", record_id, version, transient={"wrapped_keys": wrapped})
            return added

        return self._register_and_upload(record["custodian"], ref, blob, register)

    def erase(self, record_id: str) -> Record:
        """Crypto-shredding: drop every wrapped key on the ledger, then destroy the ciphertexts at the custodian."""
        history = self.record_history(record_id)
        erased: Record = self._submit("EraseRecord", record_id)
        addresses = {(h.get("value") or {}).get("ciphertext_sha256") for h in history} - {None}
        self.outbox.discard(record_id)  # a copy waiting for its upload goes too
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
