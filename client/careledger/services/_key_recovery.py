"""Compromised keys and key recovery (the chaincode's key_recovery.py tells the protocol).

An organization's admin reports a member's key compromised (a clinician gone, a device lost), or recovers a
person's key after proving who they are and having the CA enroll a new certificate for them: it names that
certificate's SHA-256, which the person reads from their new wallet (`certificate_sha256`). The person then
registers a new key from that enrollment (`register_recovered_key`), and each custodian's system, holding the
organization key, re-wraps for it the record keys the person held (`rewrap_recovered_keys`)."""

from __future__ import annotations

from careledger_protocol import KeyRecovery, Member
from careledger_protocol.documents import RecoveryKeysToRewrap
from cryptography.hazmat.primitives import hashes

from .. import crypto
from ..errors import IdentityError, NotFound
from ..json_types import JsonArgument
from ._core import SessionCore


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
        batch after batch; None when this organization had none to re-wrap. Needs the organization key."""
        if self.org_key is None:
            raise IdentityError("re-wrapping keys needs the organization key: open the session with it")
        target, recovery = self.qualify(member_id), None
        while True:
            pending: RecoveryKeysToRewrap = self._evaluate("GetRecoveryKeysToRewrap", target)
            if not pending["keys"]:
                return recovery
            wrapped: dict[str, JsonArgument] = {}
            records: list[JsonArgument] = []
            for k in pending["keys"]:
                ref = crypto.RecordRef(k["record_id"], k["sealed_for"], k["version"])
                wrapped[k["record_id"]] = crypto.rewrap_key(k["wrapped_key"], ref, self.org_key, pending["public_key"])
                records.append({"record_id": k["record_id"], "version": k["version"]})
            doc: dict[str, JsonArgument] = {"member_id": target, "records": records}
            recovery = self._submit("RewrapRecoveredKeys", doc, transient={"wrapped_keys": wrapped})
