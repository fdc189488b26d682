"""Identities on disk in the MSP folder layout the Fabric tools use.

    <dir>/msp/signcerts/cert.pem      the enrollment certificate
    <dir>/msp/keystore/key.pem        the private key (PKCS#8; encrypted when a passphrase is given)
    <dir>/msp/cacerts/ca.pem          the issuing CA's certificate chain
    <dir>/msp/config.yaml             NodeOU settings, so peer/osnadmin accept the folder as is
    <dir>/identity.json               msp id and role, for the careledger tools

An entry spans several files that must change together (a new passphrase re-encrypts two keys; a
re-enrollment replaces a certificate and its key). So `<label>` is a symbolic link to a hidden
version folder: a write builds the next version beside it and switches the link with one rename. A
kill mid-write leaves the old entry or the new one, never a mix (at worst an unused hidden folder).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path

from ._files import fsync_path, write_atomic
from ._signing import SigningIdentity, load_private_key, private_key_pem
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


_ENCRYPTION_KEY = Path("encryption") / "key.pem"


def _copy_synced(src: str, dst: str) -> None:
    shutil.copy2(src, dst)
    fsync_path(Path(dst))


class Wallet:
    """A folder of identities, one sub-folder per label, each in the MSP layout."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

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

    def _commit(self, label: str, change: Callable[[Path], None]) -> Path:
        """Apply `change` to a copy of the entry, then switch the entry to that copy in one rename."""
        entry = self.path(label)
        self.root.mkdir(parents=True, exist_ok=True)
        token = secrets.token_hex(6)
        staged = self.root / f".{label}.{token}"
        previous = entry.resolve() if entry.exists() else None
        if previous is not None:
            shutil.copytree(previous, staged, symlinks=True, copy_function=_copy_synced)
        change(staged)
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

    def put(
        self,
        label: str,
        identity: SigningIdentity,
        ca_chain_pem: bytes,
        passphrase: bytes | None = None,
        extra: dict[str, str] | None = None,
    ) -> Path:
        key_pem = private_key_pem(identity.private_key, passphrase)
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
        """(Re-)encrypt an identity's signing and encryption keys under a new passphrase."""
        if not new:
            raise IdentityError("the new passphrase must not be empty")
        identity = self.get(label, old)
        meta = self.metadata(label)
        extra = {k: v for k, v in meta.items() if k not in ("msp_id", "encrypted")}
        chain = (self.path(label) / "msp" / "cacerts" / "ca.pem").read_bytes()
        encryption_pem = self.get_encryption_key_pem(label)
        new_encryption_pem: bytes | None = None
        if encryption_pem is not None:
            from cryptography.hazmat.primitives import serialization

            key = serialization.load_pem_private_key(
                encryption_pem, password=old if meta.get("encrypted") == "yes" else None
            )
            new_encryption_pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(new),
            )
        key_pem = private_key_pem(identity.private_key, new)

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

    def put_encryption_key(self, label: str, pem: bytes) -> None:
        """The member's encryption private key (PKCS#8 PEM, encrypted by the caller when it has a passphrase)."""
        self._commit(label, lambda d: write_atomic(d / _ENCRYPTION_KEY, pem, mode=0o600))

    def get_encryption_key_pem(self, label: str) -> bytes | None:
        path = self.path(label) / _ENCRYPTION_KEY
        return path.read_bytes() if path.exists() else None

    def get(self, label: str, passphrase: bytes | None = None) -> SigningIdentity:
        self._recover(label)
        directory = self.path(label).resolve()  # one version throughout, even if a writer switches it
        try:
            meta = json.loads((directory / "identity.json").read_text())
            cert = (directory / "msp" / "signcerts" / "cert.pem").read_bytes()
            key_pem = (directory / "msp" / "keystore" / "key.pem").read_bytes()
        except FileNotFoundError:
            raise IdentityError(
                f"no identity {label!r} in wallet {self.root} (known: {', '.join(self.labels()) or 'none'})"
            ) from None
        if meta.get("encrypted") == "yes" and not passphrase:
            raise IdentityError(f"identity {label!r} is encrypted: give its passphrase")
        try:
            key = load_private_key(key_pem, passphrase if meta.get("encrypted") == "yes" else None)
        except (ValueError, TypeError) as exc:
            raise IdentityError(f"cannot open the private key of {label!r}: wrong passphrase?") from exc
        return SigningIdentity(msp_id=meta["msp_id"], certificate_pem=cert, private_key=key)
