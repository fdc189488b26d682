"""Certificate revocation at the store: each organization's CRL, as its CA published it, re-read while running.

`careledger-network revoke` gets a new CRL from the org's CA when it revokes someone; the store reads
that CRL from a file (`--crl MSP=path`, or the "crl" of the org's entry in `--trust-file`, see _trust.py),
so a revoked member is refused here as on the peers.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

log = logging.getLogger("careledger_store")

# The serial numbers the CA of an MSP has revoked, as the store knows them now.
RevokedSerials = Callable[[str], frozenset[int]]
REFRESH_SECONDS = 30.0
_PEM_BEGIN = b"-----BEGIN X509 CRL-----"


def no_revocations(msp_id: str) -> frozenset[int]:
    return frozenset()


def _signed_by(crl: x509.CertificateRevocationList, cas: list[x509.Certificate]) -> bool:
    for ca in cas:
        key = ca.public_key()
        if crl.issuer == ca.subject and isinstance(key, ec.EllipticCurvePublicKey) and crl.is_signature_valid(key):
            return True
    return False


def read_crl(path: Path, cas: list[x509.Certificate]) -> frozenset[int]:
    """The serials revoked by the CRLs in a PEM file; each CRL must be signed by one of `cas` (else
    anyone who can write the file could revoke or, by replacing it, un-revoke)."""
    data = path.read_bytes()
    serials: set[int] = set()
    for chunk in data.split(_PEM_BEGIN)[1:]:
        try:
            crl = x509.load_pem_x509_crl(_PEM_BEGIN + chunk)
        except ValueError as exc:
            raise ValueError(f"{path} holds a damaged CRL: {exc}") from None
        if not _signed_by(crl, cas):
            raise ValueError(f"{path} holds a CRL not signed by the organization's CA")
        serials.update(entry.serial_number for entry in crl)
    return frozenset(serials)


class CrlFiles:
    """Each organization's revoked serials from its CRL file, re-read when the file changed, at most
    every `interval` seconds (checked on use: no thread). A file that does not exist yet means nothing
    was revoked; a damaged or forged one is reported and the serials known before are kept, so a bad
    file never lifts a revocation."""

    def __init__(
        self,
        files: dict[str, Path],
        trusted_cas: dict[str, list[x509.Certificate]],
        interval: float = REFRESH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.files, self.trusted_cas, self.interval, self.clock = files, trusted_cas, interval, clock
        self._revoked: dict[str, frozenset[int]] = {}
        self._seen: dict[str, tuple[int, int] | None] = {}
        self._lock = threading.Lock()
        self._next = 0.0
        self.refresh()

    def __call__(self, msp_id: str) -> frozenset[int]:
        if self.clock() >= self._next and self._lock.acquire(blocking=False):
            try:  # one thread re-reads; the others go on with what is known
                self.refresh()
            finally:
                self._lock.release()
        return self._revoked.get(msp_id, frozenset())

    def update(self, files: dict[str, Path], trusted_cas: dict[str, list[x509.Certificate]]) -> None:
        """Follow a new list of organizations (the trust file changed, _trust.py). The CRL of an organization
        added, or whose file or CA changed, is read now, before the caller starts trusting that CA. The serials
        known of an organization no longer listed are kept: its certificates are refused anyway, and a request
        racing the change must not see a revocation lifted."""
        with self._lock:  # not while a request's refresh reads self.files
            for msp_id, path in files.items():
                if self.files.get(msp_id) != path or self.trusted_cas.get(msp_id) != trusted_cas.get(msp_id):
                    self._seen.pop(msp_id, None)
            self.files, self.trusted_cas = dict(files), trusted_cas
            self.refresh()

    def refresh(self) -> None:
        self._next = self.clock() + self.interval
        revoked = dict(self._revoked)
        for msp_id, path in self.files.items():
            try:
                st = os.stat(path)
            except FileNotFoundError:
                revoked[msp_id], self._seen[msp_id] = frozenset(), None
                continue
            stamp = (st.st_mtime_ns, st.st_size)
            if self._seen.get(msp_id) == stamp:
                continue
            try:
                revoked[msp_id] = read_crl(path, self.trusted_cas.get(msp_id, []))
            except (OSError, ValueError) as exc:
                kept = len(revoked.get(msp_id, ()))
                log.warning("CRL of %s not updated (keeping %d known revocations): %s", msp_id, kept, exc)
                continue
            self._seen[msp_id] = stamp
            log.info("CRL of %s: %d revoked certificates", msp_id, len(revoked[msp_id]))
        self._revoked = revoked  # one assignment: readers see the old map or the new one
