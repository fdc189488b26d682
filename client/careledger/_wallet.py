"""Identities on disk in the MSP folder layout the Fabric tools use.

    <dir>/msp/signcerts/cert.pem      the enrollment certificate
    <dir>/msp/keystore/key.pem        the private key (plain PKCS#8, or sealed when a passphrase is given)
    <dir>/msp/cacerts/ca.pem          the issuing CA's certificate chain
    <dir>/msp/config.yaml             NodeOU settings, so peer/osnadmin accept the folder as is while its key
                                      is plain (a sealed one: export a plain copy, Wallet.export_msp)
    <dir>/encryption/key.pem          the member's encryption key (same formats), once registered
    <dir>/identity.json               msp id and role, for the careledger tools

An entry spans several files that must change together (a new passphrase re-encrypts two keys; a
re-enrollment replaces a certificate and its key). So `<label>` is a symbolic link to a hidden
version folder: a write builds the next version beside it and switches the link with one rename. A
kill mid-write leaves the old entry or the new one, never a mix (at worst an unused hidden folder).
Writers of one entry take turns (an flock on `.<label>.lock`), so a write never starts from a version
another process is replacing.

Keys at rest: plain PKCS#8 PEM without a passphrase (the Fabric tools read those: nodes' and admins'
keys), sealed with scrypt + AES-256-GCM with one (`_sealed_keys.py` documents the format). Keys of
older wallets, PKCS#8 encrypted with PBKDF2, still open, and each is re-sealed the first time it is
opened with the right passphrase: the signing key by `get`, the encryption key by
`open_encryption_key`; `set_passphrase` seals both.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from ._files import fsync_path, write_atomic
from ._sealed_keys import (
    ENCRYPTION,
    SCRYPT,
    SIGNING,
    ScryptParams,
    is_encrypted,
    open_private_key,
    plain_pem,
    seal_private_key,
)
from ._signing import SigningIdentity, private_key_pem
from .errors import IdentityError

NODE_OU_CONFIG = """NodeOUs:
  Enable: true
  ClientOUIdentifier: {{Certificate: cacerts/{ca}, OrganizationalUnitIdentifier: client}}
  PeerOUIdentifier: {{Certificate: cacerts/{ca}, OrganizationalUnitIdentifier: peer}}
  AdminOUIdentifier: {{Certificate: cacerts/{ca}, OrganizationalUnitIdentifier: admin}}
  OrdererOUIdentifier: {{Certificate: cacerts/{ca}, OrganizationalUnitIdentifier: orderer}}
"""


def write_msp(
    directory: Path,
    msp_id: str,
    certificate_pem: bytes,
    private_key_pem_bytes: bytes | None,
    ca_chain_pem: bytes,
    tls_ca_pem: bytes | None = None,
    extra: dict[str, str] | None = None,
) -> None:
    """Write an MSP folder; `private_key_pem_bytes=None` writes a verifying-only (org) MSP."""
    msp = directory / "msp"
    write_atomic(msp / "cacerts" / "ca.pem", ca_chain_pem)
    if tls_ca_pem:
        write_atomic(msp / "tlscacerts" / "tlsca.pem", tls_ca_pem)
    write_atomic(msp / "config.yaml", NODE_OU_CONFIG.format(ca="ca.pem").encode())
    if certificate_pem:
        write_atomic(msp / "signcerts" / "cert.pem", certificate_pem)
    if private_key_pem_bytes:
        write_atomic(msp / "keystore" / "key.pem", private_key_pem_bytes, mode=0o600)
    meta = {"msp_id": msp_id, **(extra or {})}
    write_atomic(directory / "identity.json", (json.dumps(meta, sort_keys=True, indent=2) + "\n").encode())


_SIGNING_KEY = Path("msp") / "keystore" / "key.pem"
_ENCRYPTION_KEY = Path("encryption") / "key.pem"


def _copy_synced(src: str, dst: str) -> None:
    shutil.copy2(src, dst)
    fsync_path(Path(dst))


class _Stale(Exception):
    """The entry changed since the key being upgraded was read: leave the newer version alone."""


class Wallet:
    """A folder of identities, one sub-folder per label, each in the MSP layout. `kdf` is the scrypt cost
    of keys this wallet seals (opening uses the cost recorded in each file)."""

    def __init__(self, root: Path, kdf: ScryptParams = SCRYPT) -> None:
        self.root = Path(root)
        self.kdf = kdf

    def path(self, label: str) -> Path:
        if not label or "/" in label or label.startswith("."):
            raise IdentityError(f"invalid wallet label {label!r}")
        return self.root / label

    def labels(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(
            p.name for p in self.root.iterdir() if not p.name.startswith(".") and (p / "identity.json").is_file()
        )

    def remove(self, label: str) -> None:
        """Delete an identity (its link and its version folder)."""
        entry = self.path(label)
        target = entry.resolve()
        if entry.is_symlink():
            entry.unlink()
        shutil.rmtree(target, ignore_errors=True)
        (self.root / f".{label}.lock").unlink(missing_ok=True)

    @contextlib.contextmanager
    def _locked(self, label: str) -> Iterator[None]:
        """One writer of an entry at a time, across processes (released by the kernel if the writer dies)."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / f".{self.path(label).name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _commit(self, label: str, change: Callable[[Path], None]) -> Path:
        """Apply `change` to a copy of the entry, then switch the entry to that copy in one rename."""
        entry = self.path(label)
        with self._locked(label):
            self._recover(label)
            token = secrets.token_hex(6)
            staged = self.root / f".{label}.{token}"
            previous = entry.resolve() if entry.exists() else None
            try:
                if previous is not None:
                    shutil.copytree(previous, staged, symlinks=True, copy_function=_copy_synced)
                change(staged)
            except BaseException:
                shutil.rmtree(staged, ignore_errors=True)
                raise
            link = self.root / f".{label}.link-{token}"
            os.symlink(staged.name, link)
            if entry.is_dir() and not entry.is_symlink():  # written before entries were versioned
                previous = self.root / f".{label}.{token}-unversioned"
                os.rename(entry, previous)  # a kill right here leaves `link`, which _recover puts in place
            os.replace(link, entry)
            fsync_path(self.root)
            if previous is not None and previous != staged:
                shutil.rmtree(previous, ignore_errors=True)
        return entry

    def _recover(self, label: str) -> None:
        entry = self.path(label)
        if entry.exists() or entry.is_symlink():
            return
        for link in self.root.glob(f".{label}.link-*"):
            os.replace(link, entry)
            return

    def _seal(self, key: PrivateKeyTypes, passphrase: bytes, purpose: str, label: str) -> bytes:
        return seal_private_key(key, passphrase, purpose, label, self.kdf)

    def put(
        self,
        label: str,
        identity: SigningIdentity,
        ca_chain_pem: bytes,
        passphrase: bytes | None = None,
        extra: dict[str, str] | None = None,
    ) -> Path:
        self.path(label)
        if passphrase:
            key_pem = self._seal(identity.private_key, passphrase, SIGNING, label)
        else:
            key_pem = private_key_pem(identity.private_key)
        meta = {**(extra or {}), "encrypted": "yes" if passphrase else "no"}
        return self._commit(
            label,
            lambda d: write_msp(d, identity.msp_id, identity.certificate_pem, key_pem, ca_chain_pem, extra=meta),
        )

    def metadata(self, label: str) -> dict[str, str]:
        """What identity.json says of an identity (msp id, role, ...)."""
        path = self.path(label) / "identity.json"
        if not path.exists():
            raise IdentityError(f"no identity {label!r} in wallet {self.root}")
        return dict(json.loads(path.read_text()))

    def set_passphrase(self, label: str, new: bytes, old: bytes | None = None) -> None:
        """(Re-)seal an identity's signing and encryption keys under a new passphrase (from either format)."""
        if not new:
            raise IdentityError("the new passphrase must not be empty")
        identity = self.get(label, old)
        meta = self.metadata(label)
        extra = {k: v for k, v in meta.items() if k not in ("msp_id", "encrypted")}
        chain = (self.path(label) / "msp" / "cacerts" / "ca.pem").read_bytes()
        stored = self.get_encryption_key_pem(label)
        new_encryption_pem: bytes | None = None
        if stored is not None:
            encryption_key, _ = open_private_key(
                stored, old if meta.get("encrypted") == "yes" else None, ENCRYPTION, label
            )
            new_encryption_pem = self._seal(encryption_key, new, ENCRYPTION, label)
        key_pem = self._seal(identity.private_key, new, SIGNING, label)

        def reencrypt(directory: Path) -> None:  # both keys switch together, or neither does
            if new_encryption_pem is not None:
                write_atomic(directory / _ENCRYPTION_KEY, new_encryption_pem, mode=0o600)
            write_msp(
                directory,
                identity.msp_id,
                identity.certificate_pem,
                key_pem,
                chain,
                extra={**extra, "encrypted": "yes"},
            )

        self._commit(label, reencrypt)

    def put_encryption_key(self, label: str, pem: bytes, passphrase: bytes | None = None) -> None:
        """Store the member's encryption private key (PKCS#8 PEM, plain or encrypted under `passphrase`). In a
        passphrase-protected entry, given the passphrase, it is sealed; in an entry without one it is kept
        plain. Without `passphrase`, `pem` is stored as given (a caller's own PKCS#8 encryption is re-sealed
        the next time the key is opened)."""
        if passphrase:
            key, _ = open_private_key(pem, passphrase if is_encrypted(pem) else None, ENCRYPTION, label)
            if self._entry_encrypted(label) is False:
                pem = plain_pem(key)
            else:
                pem = self._seal(key, passphrase, ENCRYPTION, label)
        self._commit(label, lambda d: write_atomic(d / _ENCRYPTION_KEY, pem, mode=0o600))

    def _entry_encrypted(self, label: str) -> bool | None:
        """Whether the entry is passphrase-protected (identity.json), or None before it exists."""
        try:
            return self.metadata(label).get("encrypted") == "yes"
        except IdentityError:
            return None

    def get_encryption_key_pem(self, label: str) -> bytes | None:
        """The encryption key file as stored (plain PKCS#8, old encrypted PKCS#8, or sealed); callers that
        need the key use `open_encryption_key`, which reads every format."""
        path = self.path(label) / _ENCRYPTION_KEY
        return path.read_bytes() if path.exists() else None

    def open_encryption_key(self, label: str, passphrase: bytes | None = None) -> bytes | None:
        """The member's encryption private key as plain PKCS#8 PEM (in memory only), or None before
        registration. An old-format key opened with the right passphrase is re-sealed on the way."""
        self._recover(label)
        stored = self.get_encryption_key_pem(label)
        if stored is None:
            return None
        if not is_encrypted(stored) and not self._entry_encrypted(label):
            passphrase = None  # a plain key of an entry without a passphrase (a plain key elsewhere is refused)
        key, legacy = open_private_key(stored, passphrase, ENCRYPTION, label)
        if legacy and passphrase:
            self._upgrade(label, _ENCRYPTION_KEY, stored, key, passphrase, ENCRYPTION)
        return plain_pem(key)

    def get(self, label: str, passphrase: bytes | None = None) -> SigningIdentity:
        self._recover(label)
        directory = self.path(label).resolve()  # one version throughout, even if a writer switches it
        try:
            meta = json.loads((directory / "identity.json").read_text())
            cert = (directory / "msp" / "signcerts" / "cert.pem").read_bytes()
            key_pem = (directory / _SIGNING_KEY).read_bytes()
        except FileNotFoundError:
            raise IdentityError(
                f"no identity {label!r} in wallet {self.root} (known: {', '.join(self.labels()) or 'none'})"
            ) from None
        encrypted = meta.get("encrypted") == "yes"
        if encrypted and not passphrase:
            raise IdentityError(f"identity {label!r} is encrypted: give its passphrase")
        key, legacy = open_private_key(key_pem, passphrase if encrypted else None, SIGNING, label)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise IdentityError(f"the private key of {label!r} is not an EC key (Fabric identities use P-256)")
        if legacy and passphrase:
            self._upgrade(label, _SIGNING_KEY, key_pem, key, passphrase, SIGNING)
        return SigningIdentity(msp_id=meta["msp_id"], certificate_pem=cert, private_key=key)

    def export_msp(self, label: str, into: Path, passphrase: bytes | None = None) -> Path:
        """A plain MSP folder of the identity at `into` (created; it must not exist yet), for tools that
        cannot open sealed keys (the peer CLI, osnadmin, other SDKs). Its private key is NOT protected: the
        key file is 0600 and the folder 0700, and deleting it when done is the caller's job."""
        identity = self.get(label, passphrase)
        if into.exists():
            raise IdentityError(f"{into} exists: export into a new folder, so nothing of yours is overwritten")
        entry = self.path(label).resolve()
        tls_ca = entry / "msp" / "tlscacerts" / "tlsca.pem"
        into.mkdir(mode=0o700, parents=True)
        write_msp(
            into,
            identity.msp_id,
            identity.certificate_pem,
            private_key_pem(identity.private_key),
            (entry / "msp" / "cacerts" / "ca.pem").read_bytes(),
            tls_ca.read_bytes() if tls_ca.exists() else None,
        )
        return into / "msp"

    def _upgrade(
        self, label: str, relative: Path, was: bytes, key: PrivateKeyTypes, passphrase: bytes, purpose: str
    ) -> None:
        """Re-seal one old-format key in the new format, as a whole-entry switch. Best effort: the key opened
        either way, so a read-only wallet or a concurrent change only postpones the upgrade."""
        sealed = self._seal(key, passphrase, purpose, label)

        def replace(directory: Path) -> None:
            if (directory / relative).read_bytes() != was:  # another writer got there first (new passphrase?)
                raise _Stale
            write_atomic(directory / relative, sealed, mode=0o600)

        with contextlib.suppress(_Stale, OSError):
            self._commit(label, replace)
