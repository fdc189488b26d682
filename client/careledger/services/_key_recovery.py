"""Compromised keys and key recovery (the chaincode's key_recovery.py tells the protocol).

An organization's admin reports a member's key compromised (a clinician gone, a device lost), or recovers a
person's key after proving who they are and having the CA enroll a new certificate for them: it names that
certificate's SHA-256, which the person reads from their new wallet (`certificate_sha256`). The person then
registers a new key from that enrollment (`register_recovered_key`), and each custodian's system, holding the
organization key, re-wraps for it the record keys the person held (`rewrap_recovered_keys`; for every recovery
awaiting this organization, `rewrap_pending_recoveries`, which the hospital app runs on a timer)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from careledger_protocol import KeyRecovery, Member
from careledger_protocol.documents import RecoveryKeysToRewrap
from cryptography.hazmat.primitives import hashes
from joserfc.jwk import ECKey

from .. import crypto
from ..errors import ChaincodeRefusal, IdentityError, IntegrityError, NotFound
from ..json_types import JsonArgument
from ._core import SessionCore


@dataclass(frozen=True)
class RecoveryRewraps:
    """What one pass over the key recoveries awaiting this organization did: counts only, never who."""

    members: int = 0  # recovered members this organization handed keys in for
    keys: int = 0  # record keys handed in, wrapped for the members' new keys
    failed: int = 0  # recoveries the ledger refused (changed meanwhile) or with a key that did not open


class KeyRecoveryFlows(SessionCore):
    # -- the organization's admin --------------------------------------------------------------------------------
    def report_key_compromised(self, member_id: str, reason: str) -> Member:
        """Nothing is wrapped for the member's current key or released to the member from now on (reason: one of
        careledger_protocol.COMPROMISE_REASONS). Revoke the member's certificate too (careledger-network revoke)."""
        doc = {"member_id": self.qualify(member_id), "reason": reason}
        member: Member = self._submit("ReportKeyCompromised", doc)
        return member

    def open_key_recovery(self, member_id: str, certificate_sha256: str, proofing: str) -> KeyRecovery:
        """Open the recovery of a member's key after identity proofing (proofing: one of
        careledger_protocol.PROOFING_METHODS), naming the SHA-256 of the certificate the CA enrolled for them."""
        doc = {
            "member_id": self.qualify(member_id),
            "certificate_sha256": certificate_sha256.replace(":", "").lower(),  # as openssl prints it, or bare
            "proofing": proofing,
        }
        recovery: KeyRecovery = self._submit("OpenKeyRecovery", doc)
        return recovery

    # -- the member ----------------------------------------------------------------------------------------------
    def certificate_sha256(self) -> str:
        """SHA-256 of this identity's certificate (DER): what the admin names when it recovers this member's key."""
        certificate = self.wallet.get(self.user, self.passphrase).certificate
        return certificate.fingerprint(hashes.SHA256()).hex()

    def register_recovered_key(self) -> KeyRecovery:
        """Register this member's new encryption key (made now and kept in the wallet, unless the wallet has one
        already) from the enrollment the recovery names."""
        key = self._wallet_encryption_key()
        recovery: KeyRecovery = self._submit("RegisterRecoveredKey", crypto.public_jwk(key))
        return recovery

    def key_recovery(self, member_id: str | None = None) -> KeyRecovery | None:
        """A member's latest key recovery (this member's by default), or None when there never was one."""
        try:
            recovery: KeyRecovery = self._evaluate("GetKeyRecovery", self.qualify(member_id or self.member_id()))
        except NotFound:
            return None
        return recovery

    # -- the custodian's system (holds the organization key) ------------------------------------------------------
    def rewrap_recovered_keys(self, member_id: str) -> KeyRecovery | None:
        """Re-wrap, for a recovered member's new key, every key of this organization's records the member held,
        batch after batch (and clear those erased since); None when this organization's list was empty already.
        Needs the organization key."""
        after_each = [recovery for recovery, _ in self._rewrap_batches(self.qualify(member_id))]
        return after_each[-1] if after_each else None

    def recoveries_to_rewrap(self) -> list[str]:
        """The members whose key recovery awaits a re-wrap from this organization (its admin asks)."""
        members: list[str] = self._all_pages("ListKeyRecoveriesToRewrap")
        return members

    def rewrap_pending_recoveries(self) -> RecoveryRewraps:
        """Re-wrap the keys of every key recovery awaiting this organization (`rewrap_recovered_keys` for each
        member the ledger lists). One recovery's refusal, or a key that does not open, does not stop the others:
        it is counted, and listed again next time. Needs the organization key (a hospital system's session)."""
        self._require_org_key()
        members = keys = failed = 0
        for target in self.recoveries_to_rewrap():
            handed = 0
            try:
                for _, batch in self._rewrap_batches(target):
                    handed += batch
            except (ChaincodeRefusal, IntegrityError):
                failed += 1  # reopened or changed meanwhile (the ledger said why), or a key that is not this org's
            members, keys = members + int(handed > 0), keys + handed
        return RecoveryRewraps(members, keys, failed)

    def _require_org_key(self) -> ECKey:
        if self.org_key is None:
            raise IdentityError("re-wrapping keys needs the organization key: open the session with it")
        return self.org_key

    def _rewrap_batches(self, target: str) -> Iterator[tuple[KeyRecovery, int]]:
        """Hand in this organization's keys of `target`'s records re-wrapped for the new key, a batch at a time:
        the recovery after each batch and how many keys it held, until the ledger lists none. Records the ledger
        says need nothing any more (`settled`: erased since, or keyed for the new key meanwhile) are named without
        a key, so that they leave the list even when a batch holds nothing else."""
        org_key = self._require_org_key()
        while True:
            pending: RecoveryKeysToRewrap = self._evaluate("GetRecoveryKeysToRewrap", target)
            settled = pending.get("settled", [])  # a ledger from before `settled` lists none
            if not pending["keys"] and not settled:
                return
            wrapped: dict[str, JsonArgument] = {}
            records: list[JsonArgument] = []
            for k in pending["keys"]:
                ref = crypto.RecordRef(k["record_id"], k["sealed_for"], k["version"])
                wrapped[k["record_id"]] = crypto.rewrap_key(k["wrapped_key"], ref, org_key, pending["public_key"])
                records.append({"record_id": k["record_id"], "version": k["version"]})
            records += [{"record_id": s["record_id"], "version": s["version"]} for s in settled]
            doc: dict[str, JsonArgument] = {"member_id": target, "records": records}
            recovery: KeyRecovery = self._submit("RewrapRecoveredKeys", doc, transient={"wrapped_keys": wrapped})
            yield recovery, len(wrapped)
