"""What each role does, as one session object: used by the CLI, the apps and the tests.

    with Session.open(profile, "h1-clinician-1") as s:
        record = s.create_record("h1-patient-1", observation, category="laboratory")
        opened = s.open_records([record["id"]], purpose="treatment")

Writes are retried on MVCC read conflicts (another transaction changed what this one read); every
other ledger refusal is raised as the gateway's exception with the chaincode's code. No clinical
content is ever logged.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import careledger_protocol as protocol
from joserfc.jwk import ECKey

from . import crypto, fhir
from ._wallet import Wallet
from .errors import CareLedgerError, CommitError, Conflict, EndorseError, IdentityError, NotFound, NotFoundError
from .gateway import Contract, Gateway, connect, load_profile
from .store import StoreClient, StoreError

RETRYABLE_CODES = ("MVCC_READ_CONFLICT", "PHANTOM_READ_CONFLICT")
# The gateway's detail when two endorsers simulated on different ledger states: one peer had not yet
# committed the block the client's previous transaction went into. It passes in a moment.
_ENDORSEMENT_MISMATCH = "ProposalResponsePayloads do not match"


def endorsers_disagreed(exc: EndorseError) -> bool:
    """Did the endorsement fail only because the endorsing peers were at different block heights?"""
    return any(_ENDORSEMENT_MISMATCH in d.message for d in exc.details)


def _same_key(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return all(a.get(k) == b.get(k) for k in ("kty", "crv", "x", "y"))


@dataclass
class OpenedRecord:
    record_id: str
    patient_id: str
    version: int
    resource: dict[str, Any]
    access_tx_id: str


@dataclass
class SealedRecord:
    """A record's ciphertext, checked against the ledger's hash, and its wrapped key: not yet decrypted."""

    record_id: str
    patient_id: str
    version: int
    key_entry: dict[str, Any] = field(repr=False)
    blob: bytes = field(repr=False)
    access_tx_id: str = ""


@dataclass
class Refused:
    record_id: str
    reason: str


@dataclass
class Session:
    profile_path: Path
    user: str
    gateway: Gateway
    contract: Contract
    profile: dict[str, Any]
    wallet: Wallet
    passphrase: bytes | None = None
    org_key: ECKey | None = None  # the organization's private key, held by hospital systems (apps, stores)
    max_retries: int = 4
    _stores: dict[str, StoreClient] = field(default_factory=dict)
    _member_id: str = ""
    _fetch_pool: ThreadPoolExecutor | None = field(default=None, repr=False)
    _encryption_key: ECKey | None = field(default=None, repr=False)

    @classmethod
    def open(
        cls,
        profile_path: Path,
        user: str,
        passphrase: bytes | None = None,
        org_key_from: str | None = None,
        require_passphrase: bool = False,
    ) -> Session:
        """Connect as `user`. `require_passphrase` refuses identities whose keys are not passphrase-protected
        (the web apps sign people in with their passphrase)."""
        profile = load_profile(profile_path)
        meta = profile.get("x-careledger", {})
        if require_passphrase:
            wallet_meta = Wallet(Path(meta.get("wallet", profile_path.parent))).metadata(user)
            if wallet_meta.get("encrypted") != "yes":
                raise IdentityError(f"{user} has no passphrase yet: set one with `careledger wallet set-passphrase`")
        gateway = connect(profile_path, user, passphrase=passphrase)
        contract = gateway.network(meta.get("channel", "careledger")).contract(meta.get("chaincode", "careledger"))
        wallet = Wallet(Path(meta.get("wallet", profile_path.parent)))
        session = cls(profile_path, user, gateway, contract, profile, wallet, passphrase)
        if org_key_from:
            session.org_key = session._load_encryption_key(org_key_from)
        return session

    @property
    def _fetchers(self) -> ThreadPoolExecutor:
        """Threads that fetch ciphertexts while the keys are asked for; long-lived, so each keeps its
        store connections open across calls."""
        if self._fetch_pool is None:
            self._fetch_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="careledger-fetch")
        return self._fetch_pool

    def close(self) -> None:
        if self._fetch_pool is not None:
            self._fetch_pool.shutdown(wait=True)
        for store in self._stores.values():
            store.close()
        self.gateway.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- ledger calls ----------------------------------------------------------------------------------------
    def submit(self, function: str, *args: Any, transient: dict[str, Any] | None = None) -> Any:
        """Submit and wait for the commit. `transient` values (JSON-encoded unless bytes or str) reach the
        chaincode but never the block: wrapped keys, free text and model outputs travel that way."""
        encoded = [a if isinstance(a, str) else json.dumps(a, sort_keys=True) for a in args]
        private = _encode_transient(transient)
        for attempt in range(self.max_retries + 1):
            try:
                raw = self.contract.submit_transaction(function, *encoded, transient=private)
                return json.loads(raw) if raw else None
            except CommitError as exc:
                if exc.validation_code not in RETRYABLE_CODES or attempt == self.max_retries:
                    raise
                time.sleep(0.05 * 2**attempt)
            except EndorseError as exc:
                if not endorsers_disagreed(exc) or attempt == self.max_retries:
                    raise
                time.sleep(0.05 * 2**attempt)
        raise AssertionError("unreachable")

    def evaluate(self, function: str, *args: Any) -> Any:
        encoded = [a if isinstance(a, str) else json.dumps(a, sort_keys=True) for a in args]
        raw = self.contract.evaluate_transaction(function, *encoded)
        return json.loads(raw) if raw else None

    def qualify(self, member: str) -> str:
        """A member's ledger id. A bare id (no '@') names a member of this session's own organization;
        `org:<MSP>` ids and qualified ids are returned as they are."""
        return protocol.qualify(member, self.gateway.msp_id)

    # -- identity ----------------------------------------------------------------------------------------------
    def _load_encryption_key(self, label: str) -> ECKey:
        pem = self.wallet.open_encryption_key(label, self.passphrase if label == self.user else None)
        if pem is None:
            raise IdentityError(
                f"{label} has no encryption key in {self.wallet.root}: run `careledger member register`"
            )
        return crypto.load_private_key(pem)

    def encryption_key(self) -> ECKey:
        """This member's private encryption key, read from the wallet (and decrypted) once per session."""
        if self._encryption_key is None:
            self._encryption_key = self._load_encryption_key(self.user)
        return self._encryption_key

    def register(self) -> dict[str, Any]:
        """Make this member's encryption key (kept in the wallet) and register its public part on the ledger.

        An org admin registers the organization's key. Registering again with the same key is a no-op.
        """
        pem = self.wallet.open_encryption_key(self.user, self.passphrase)
        if pem is None:
            key = crypto.new_encryption_key()
            self.wallet.put_encryption_key(self.user, crypto.private_key_pem(key), passphrase=self.passphrase)
        else:
            key = crypto.load_private_key(pem)
        self._encryption_key = key
        jwk = crypto.public_jwk(key)
        if self.wallet.metadata(self.user).get("role") == "admin":
            member = self.evaluate("GetMember", f"org:{self.gateway.msp_id}") if self._org_key_registered() else None
            if member and _same_key(member["public_key"], jwk):
                return dict(member)
            return dict(self.submit("RegisterOrganizationKey", json.dumps(jwk)))
        try:
            return dict(self.submit("RegisterMember", json.dumps(jwk)))
        except Conflict:
            pass  # registered already: keep the key on the ledger if it is ours
        member = self.evaluate("GetMember", self.member_id())
        if _same_key(member["public_key"], jwk):
            return dict(member)
        return dict(self.submit("UpdateMemberKey", json.dumps(jwk)))  # the ledger had another key: ours wins

    def _org_key_registered(self) -> bool:
        try:
            self.evaluate("GetMember", f"org:{self.gateway.msp_id}")
        except NotFound:
            return False
        return True

    def member_id(self) -> str:
        """This user's ledger id, `<certificate member_id>@<MSP>` (asked of the chaincode once, then kept)."""
        if not self._member_id:
            self._member_id = str(self.evaluate_who()["member_id"])
        return self._member_id

    def evaluate_who(self) -> dict[str, Any]:
        return dict(self.evaluate("WhoAmI"))

    def _unwrap(self, entry: dict[str, Any], ref: crypto.RecordRef) -> bytes:
        recipient = entry["recipient"]
        if recipient.startswith(protocol.ORG_MEMBER_PREFIX):
            if self.org_key is None:
                raise IdentityError(
                    f"the key of {ref.record_id} is wrapped for {recipient}: open it from a hospital system"
                )
            return crypto.unwrap_key(entry["wrapped_key"], ref, self.org_key)
        return crypto.unwrap_key(entry["wrapped_key"], ref, self.encryption_key())

    # -- stores ------------------------------------------------------------------------------------------------
    def store(self, custodian_msp: str) -> StoreClient:
        if custodian_msp not in self._stores:
            stores = self.profile.get("x-careledger", {}).get("stores", {})
            if custodian_msp not in stores:
                raise CareLedgerError(f"{custodian_msp} runs no record store known to {self.profile_path}")
            entry = stores[custodian_msp]
            identity = self.wallet.get(self.user, self.passphrase)
            self._stores[custodian_msp] = StoreClient(entry["url"], entry["tlsCACerts"]["pem"].encode(), identity)
        return self._stores[custodian_msp]

    # -- clinician ---------------------------------------------------------------------------------------------
    def create_record(
        self, patient_id: str, resource: dict[str, Any], category: str, record_id: str | None = None
    ) -> dict[str, Any]:
        """Validate, encrypt, wrap for every entitled recipient, register on the ledger, then store the
        ciphertext at this org's store (which accepts only the ciphertext the ledger names)."""
        clean = fhir.validate(resource)
        patient_id = self.qualify(patient_id)
        record_id = record_id or f"rec-{uuid.uuid4().hex}"
        ref = crypto.RecordRef(record_id, patient_id, 1)
        key = crypto.new_record_key()
        blob = crypto.seal(fhir.canonical_bytes(clean), key, ref)
        recipients = self.evaluate("GetNewRecordRecipients", patient_id, category)
        own_msp = self.gateway.msp_id
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
        wrapped = {r["id"]: crypto.wrap_key(key, ref, r["public_key"], r["id"]) for r in recipients}
        record = dict(self.submit("CreateRecord", doc, transient={"wrapped_keys": wrapped}))
        self.store(own_msp).put(blob, record_id)
        return record

    def request_access(self, record_ids: list[str], purpose: str) -> dict[str, Any]:
        return dict(self.submit("RequestAccess", {"record_ids": record_ids, "purpose": purpose}))

    def emergency_access(self, record_ids: list[str], justification: str) -> dict[str, Any]:
        """Break-glass. The justification goes as transient data with a random salt: the ledger keeps it as
        private data for the patients and auditors, and only its salted digest in public."""
        transient = {"justification": justification, "salt": secrets.token_hex(16)}
        return dict(self.submit("EmergencyAccess", {"record_ids": record_ids}, transient=transient))

    def open_records(
        self, record_ids: list[str], purpose: str = "treatment", emergency_justification: str | None = None
    ) -> list[OpenedRecord | Refused]:
        """Request access (recorded on the ledger), fetch the allowed ciphertexts, check them, decrypt.

        Denied records are never fetched or decrypted."""
        if emergency_justification:
            result = self.emergency_access(record_ids, emergency_justification)
        else:
            result = self.request_access(record_ids, purpose)
        return [self.decrypt(item) if isinstance(item, SealedRecord) else item for item in self.fetch_allowed(result)]

    def fetch_allowed(self, result: dict[str, Any]) -> list[SealedRecord | Refused]:
        """The keys (GetAccessKeys) and checked ciphertexts of the records an access transaction allowed,
        in its order; refusals say why. Nothing is decrypted yet (see decrypt)."""
        txid = result["tx_id"]
        allowed = [d for d in result["decisions"] if d["decision"] == "allowed"]
        by_custodian: dict[str, dict[str, str | None]] = {}
        for decision in allowed:
            if decision.get("key_available", True):  # no key for us (emergency at another org): no fetch
                by_custodian.setdefault(decision["custodian"], {})[decision["record_id"]] = None
        keys: dict[str, Any] = {}
        blobs: dict[str, bytes | StoreError] = {}
        if allowed:
            # The keys and the ciphertexts are asked for at once; each blob is then checked against the
            # SHA-256 the ledger gives with its key, so the store is trusted for nothing.
            fetches = [self._fetchers.submit(self.store(c).get_many, w, txid) for c, w in by_custodian.items()]
            keys = self.evaluate("GetAccessKeys", txid)["keys"]
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
                items.append(Refused(rid, entry["reason"]))
                continue
            blob = blobs.get(rid)
            if not isinstance(blob, bytes):  # allowed by the ledger, refused, missing or not asked at the store
                items.append(Refused(rid, f"custodian store: {blob or 'not fetched'}"))
                continue
            if crypto.content_address(blob) != entry["ciphertext_sha256"]:  # checked against the ledger, not the store
                raise crypto.IntegrityError(f"record {rid}: the ciphertext does not match the ledger's SHA-256")
            items.append(
                SealedRecord(rid, entry.get("sealed_for", entry["patient_id"]), entry["version"], entry, blob, txid)
            )
        return items

    def decrypt(self, sealed: SealedRecord) -> OpenedRecord:
        """Unwrap the record key and open the ciphertext (its integrity and binding to the record are checked)."""
        ref = crypto.RecordRef(sealed.record_id, sealed.patient_id, sealed.version)
        plaintext = crypto.open_blob(sealed.blob, self._unwrap(sealed.key_entry, ref), ref)
        return OpenedRecord(
            sealed.record_id, sealed.patient_id, sealed.version, json.loads(plaintext), sealed.access_tx_id
        )

    # -- patient -----------------------------------------------------------------------------------------------
    def my_records(self, page_size: int = 100) -> list[dict[str, Any]]:
        return self.all_pages("ListPatientRecords", self.member_id(), page_size=page_size)

    def all_pages(self, function: str, *args: str, page_size: int = 100) -> list[dict[str, Any]]:
        items, bookmark = [], ""
        while True:
            page = self.evaluate(function, *args, str(page_size), bookmark)
            items.extend(page["items"])
            bookmark = page["bookmark"]
            if not bookmark or not page["items"]:
                return items

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

    def rotate_record(self, record_id: str) -> dict[str, Any]:
        """Re-encrypt a record under a new key for its current recipients (after a revocation)."""
        opened = [o for o in self.open_records([record_id], "treatment") if isinstance(o, OpenedRecord)]
        if not opened:
            raise CareLedgerError(f"cannot open {record_id} to rotate its key")
        record = self.evaluate("GetRecord", record_id)
        recipients = self.evaluate("GetRecipients", record_id)
        ref = crypto.RecordRef(record_id, record["patient_id"], record["version"] + 1)
        key = crypto.new_record_key()
        blob = crypto.seal(fhir.canonical_bytes(opened[0].resource), key, ref)
        address = crypto.content_address(blob)
        version = {
            "ciphertext_sha256": address,
            "size": len(blob),
            "locator": f"{record['custodian']}/sha256/{address}",
        }
        wrapped = {r["id"]: crypto.wrap_key(key, ref, r["public_key"], r["id"]) for r in recipients}
        added = dict(self.submit("AddRecordVersion", record_id, version, transient={"wrapped_keys": wrapped}))
        self.store(record["custodian"]).put(blob, record_id)
        return added

    def erase(self, record_id: str) -> dict[str, Any]:
        """Crypto-shredding: drop every wrapped key on the ledger, then destroy the ciphertexts at the custodian."""
        history = self.evaluate("GetRecordHistory", record_id)
        erased = dict(self.submit("EraseRecord", record_id))
        addresses = {(h.get("value") or {}).get("ciphertext_sha256") for h in history} - {None}
        for address in sorted(a for a in addresses if a):
            self.store(erased["custodian"]).delete(address, record_id)
        return erased

    def access_log(self, patient_id: str | None = None) -> list[dict[str, Any]]:
        return self.all_pages("ListAccessByPatient", self.qualify(patient_id) if patient_id else self.member_id())


def _encode_transient(values: dict[str, Any] | None) -> dict[str, bytes] | None:
    if not values:
        return None
    return {
        name: v
        if isinstance(v, bytes)
        else v.encode()
        if isinstance(v, str)
        else json.dumps(v, sort_keys=True).encode()
        for name, v in values.items()
    }
