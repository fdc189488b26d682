"""Emergency access across hospitals and its review.

The requester breaks the glass (EmergencyAccess); records of its own hospital open at once with the hospital's
key, records of another hospital wait for that custodian, whose system (holding the organization key) re-wraps
their keys for the requester against the committed emergency (`release_emergency_keys`); the requester then
opens them (`open_released`). Auditors and the custodians' privacy officers review each emergency with a note
that travels as transient data with a random salt (kept as private data, its salted digest in public)."""

from __future__ import annotations

import datetime
import secrets
import time
from dataclasses import dataclass, field

from careledger_protocol import AccessKeys, AccessResult, Emergency, EmergencyRelease, EmergencyReview

from .. import crypto
from ..errors import ChaincodeRefusal, IdentityError, IntegrityError, NotFound
from ..json_types import JsonArgument
from ._core import OpenedRecord, Refused, SealedRecord
from ._records import RecordFlows

# How often a requester asks again for keys a custodian has not released yet.
_POLL_SECONDS = 1.0


@dataclass
class EmergencyOpening:
    """What a break-glass opened: its access transaction, until when it releases keys and ciphertexts, and each
    record opened or why not (yet): records of another hospital wait for its custodian's release."""

    access_tx_id: str
    open_until: str
    items: list[OpenedRecord | Refused] = field(default_factory=list)

    @property
    def waiting(self) -> list[str]:
        return [i.record_id for i in self.items if isinstance(i, Refused) and i.awaiting_custodian]


class EmergencyFlows(RecordFlows):
    # -- the requester ------------------------------------------------------------------------------------------
    def break_glass(self, record_ids: list[str], justification: str, wait: float = 0.0) -> EmergencyOpening:
        """Emergency access to records (any hospital's), decrypted where the key is at hand; records whose key
        another custodian must release are asked again for up to `wait` seconds."""
        return self._opened(self.emergency_access(record_ids, justification), wait)

    def break_glass_for_patient(
        self, patient_id: str, justification: str, categories: list[str] | None = None, wait: float = 0.0
    ) -> EmergencyOpening:
        """Emergency access from a patient page: the patient's active records (of these categories, or all),
        which the ledger picks (a clinician without consent cannot see them to choose)."""
        doc: dict[str, JsonArgument] = {"patient_id": self.qualify(patient_id)}
        if categories:
            doc["categories"] = list(categories)
        transient = {"justification": justification, "salt": secrets.token_hex(16)}
        result: AccessResult = self._submit("EmergencyAccessForPatient", doc, transient=transient)
        return self._opened(result, wait)

    def _opened(self, result: AccessResult, wait: float) -> EmergencyOpening:
        items = [i if isinstance(i, Refused) else self.decrypt(i) for i in self.fetch_allowed(result)]
        waiting = {d["record_id"] for d in result["decisions"] if d.get("key_available") is False}
        opening = EmergencyOpening(result["tx_id"], result["open_until"], [_mark(i, waiting) for i in items])
        deadline = time.monotonic() + wait
        while opening.waiting and time.monotonic() < deadline:
            time.sleep(_POLL_SECONDS)
            self._merge(opening, self.open_released(opening.access_tx_id, only=set(opening.waiting)))
        return opening

    def emergency_keys(self, access_tx_id: str) -> AccessKeys:
        """The keys custodians released to this member for its emergency access (GetEmergencyKeys)."""
        keys: AccessKeys = self._evaluate("GetEmergencyKeys", access_tx_id)
        return keys

    def open_released(self, access_tx_id: str, only: set[str] | None = None) -> list[OpenedRecord | Refused]:
        """Open the records of an emergency access whose keys their custodians released: the ciphertext comes
        from the custodian's store (which checks the same committed access) and is checked against the ledger."""
        keys = self.emergency_keys(access_tx_id)["keys"]
        wanted = {rid: k for rid, k in keys.items() if only is None or rid in only}
        items: list[OpenedRecord | Refused] = []
        by_custodian: dict[str, dict[str, str | None]] = {}
        for rid, entry in wanted.items():
            if entry["available"]:
                by_custodian.setdefault(entry["custodian"], {})[rid] = entry["ciphertext_sha256"]
            else:
                items.append(Refused(rid, entry.get("reason", "no key"), awaiting_custodian=True))
        for custodian, records in by_custodian.items():
            blobs = self.store(custodian).get_many(records, access_tx_id)
            for rid in records:
                blob, entry = blobs.get(rid), wanted[rid]
                if not isinstance(blob, bytes):
                    items.append(Refused(rid, f"custodian store: {blob or 'not fetched'}"))
                    continue
                if crypto.content_address(blob) != entry["ciphertext_sha256"]:
                    raise IntegrityError(f"record {rid}: the ciphertext does not match the ledger's SHA-256")
                sealed = SealedRecord(rid, entry["sealed_for"], entry["version"], entry, blob, access_tx_id)
                items.append(self.decrypt(sealed))
        return items

    @staticmethod
    def _merge(opening: EmergencyOpening, fresh: list[OpenedRecord | Refused]) -> None:
        by_id = {i.record_id: i for i in fresh}
        opening.items = [by_id.get(i.record_id, i) for i in opening.items]

    # -- the custodian's system (holds the organization key) ------------------------------------------------------
    def release_emergency_keys(self, access_tx_id: str) -> EmergencyRelease | None:
        """Re-wrap, for the requester of a committed emergency access, the keys of this organization's records it
        awaits; None when it awaits none (any more). Needs the organization key (a hospital system's session)."""
        if self.org_key is None:
            raise IdentityError("releasing emergency keys needs the organization key: open the session with it")
        pending = self._evaluate("GetEmergencyKeysToRelease", access_tx_id)
        wrapped = {}
        for k in pending["keys"]:
            ref = crypto.RecordRef(k["record_id"], k["sealed_for"], k["version"])
            wrapped[k["record_id"]] = crypto.rewrap_key(k["wrapped_key"], ref, self.org_key, k["requester_key"])
        if not wrapped:
            return None
        doc = {"access_tx_id": access_tx_id}
        released: EmergencyRelease = self._submit("ReleaseEmergencyKeys", doc, transient={"wrapped_keys": wrapped})
        return released

    def release_pending_emergency_keys(self) -> list[EmergencyRelease]:
        """Release every key this organization's records owe to emergency requesters (a custodian service runs
        this on each emergency event or on a timer). One emergency's refusal does not stop the others."""
        released = []
        now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # the ledger's time form
        for item in self.emergencies(self.gateway.identity.msp_id, "awaiting-release"):
            if item["open_until"] <= now:
                continue  # its window has ended: nothing can be released any more
            try:
                done = self.release_emergency_keys(item["access_tx_id"])
            except ChaincodeRefusal:
                continue  # closed or changed meanwhile: the ledger said why; the next emergency still goes
            if done is not None:
                released.append(done)
        return released

    # -- review -------------------------------------------------------------------------------------------------
    def emergencies(self, custodian: str = "", which: str = "unreviewed") -> list[Emergency]:
        """Emergency accesses, oldest first: "all", "unreviewed" or (with a custodian) "awaiting-release"."""
        return self._all_pages("ListEmergencies", custodian, which)

    def review_emergency(self, access_tx_id: str, verdict: str, note: str) -> EmergencyReview:
        """Mark an emergency access "justified" or "unjustified", saying why (at least 20 letters)."""
        transient = {"note": note, "salt": secrets.token_hex(16)}
        doc = {"access_tx_id": access_tx_id, "verdict": verdict}
        review: EmergencyReview = self._submit("ReviewEmergency", doc, transient=transient)
        return review

    def emergency_review(self, access_tx_id: str) -> EmergencyReview | None:
        """The review of an emergency access with its note, or None while it awaits review."""
        try:
            review: EmergencyReview = self._evaluate("GetEmergencyReview", access_tx_id)
        except NotFound:
            return None
        return review


def _mark(item: OpenedRecord | Refused, waiting: set[str]) -> OpenedRecord | Refused:
    if isinstance(item, Refused) and item.record_id in waiting:
        return Refused(item.record_id, item.reason, awaiting_custodian=True)
    return item
