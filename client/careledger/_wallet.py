"""Identities on disk in the MSP folder layout the Fabric tools use.

    <dir>/msp/signcerts/cert.pem      the enrollment certificate
    <dir>/msp/keystore/key.pem        the private key (plain PKCS#8, or sealed when a passphrase is given)
    <dir>/msp/cacerts/ca.pem          the issuing CA's certificate chain
    <dir>/msp/config.yaml             NodeOU settings, so peer/osnadmin accept the folder as is
    <dir>/encryption/key.pem          the member's encryption key (same formats), once registered
    <dir>/identity.json               msp id and role, for the careledger tools

An entry spans several files that must change together (a new passphrase re-encrypts two keys; a
re-enrollment replaces a certificate and its key). So `<label>` is a symbolic link to a hidden
version folder: a write builds the next version beside it and switches the link with one rename. A
kill mid-write leaves the old entry or the new one, never a mix (at worst an unused hidden folder).
Writers of one entry take turns (an flock on `.<label>.lock`), so a write never starts from a version
another process is replacing.

Keys at rest. Without a passphrase a key is plain PKCS#8 PEM, which the Fabric tools read (nodes' and
admins' keys). With one it is sealed: scrypt (RFC 7914) derives a 256-bit key from the passphrase and a
random salt, and AES-256-GCM encrypts the key's PKCS#8 DER. The file is PEM-armoured JSON:

    -----BEGIN CARELEDGER ENCRYPTED PRIVATE KEY-----
    base64 of {"v": 1, "purpose": "signing" | "encryption", "label": "<wallet label>",
               "kdf": {"name": "scrypt", "n": 32768, "r": 8, "p": 1, "salt": "<base64, 16 bytes>"},
               "cipher": {"name": "AES-256-GCM", "nonce": "<base64, 12 bytes>"},
               "ciphertext": "<base64: DER, then the 16-byte tag>"}
    -----END CARELEDGER ENCRYPTED PRIVATE KEY-----

The associated data is `careledger-sealed-key/1` and the canonical JSON (sorted keys, no spaces) of
every field but the ciphertext: a changed parameter, purpose or label fails like a wrong passphrase, and
a key copied into another entry or slot does not open there.

Older wallets hold PKCS#8 encrypted by `BestAvailableEncryption` (PBKDF2-SHA256, 2,048 iterations:
about 1 ms per guess here). They still open, and each such key is re-sealed the first time it is opened
with the right passphrase: the signing key by `get`, the encryption key by `open_encryption_key`;
`set_passphrase` seals both.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import json
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from ._files import fsync_path, write_atomic
from ._signing import SigningIdentity, private_key_pem
from .errors import IdentityError

NODE_OU_CONFIG = """NodeOUs:
  Enable: true
  ClientOUIdentifier: {{Certificate: cacerts/{ca}, OrganizationalUnitIdentifier: client}}
  PeerOUIdentifier: {{Certificate: cacerts/{ca}, OrganizationalUnitIdentifier: peer}}
  AdminOUIdentifier: {{Certificate: cacerts/{ca}, OrganizationalUnitIdentifier: admin}}
  OrdererOUIdentifier: {{Certificate: cacerts/{ca}, OrganizationalUnitIdentifier: orderer}}
"""


@dataclass(frozen=True)
class ScryptParams:
    """scrypt's cost: memory is 128 * r * n bytes, time grows with n * r * p."""

    n: int = 2**15
    r: int = 8
    p: int = 1


# n=2**15, r=8, p=1 (32 MiB) derives in 90-130 ms on this project's machines (2-core AMD EPYC, cryptography
# 50 / OpenSSL 3; 2**16 took 195-330 ms). A sign-in opens two keys, so about a quarter of a second, and
# each offline guess costs the same 32 MiB and ~0.1 s, against ~1 ms for the old PBKDF2 format.
SCRYPT = ScryptParams()
# What a sealed file may ask for when it is opened: bounded, so a damaged or hostile file cannot make us
# allocate gigabytes or spin for minutes. Every write uses the wallet's own parameters.
_MAX_N, _MAX_R, _MAX_P, _MAX_MEMORY = 2**20, 32, 16, 1 << 30
_BEGIN = b"-----BEGIN CARELEDGER ENCRYPTED PRIVATE KEY-----"
_END = b"-----END CARELEDGER ENCRYPTED PRIVATE KEY-----"
_LEGACY_BEGIN = b"-----BEGIN ENCRYPTED PRIVATE KEY-----"
_AAD_PREFIX = b"careledger-sealed-key/1\n"
_SIGNING, _ENCRYPTION = "signing", "encryption"
_FIELDS, _KDF_FIELDS = {"v", "purpose", "label", "kdf", "cipher", "ciphertext"}, {"name", "n", "r", "p", "salt"}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _aad(header: dict[str, Any]) -> bytes:
    return _AAD_PREFIX + json.dumps(header, sort_keys=True, separators=(",", ":")).encode()


def _derive(passphrase: bytes, salt: bytes, params: ScryptParams) -> bytes:
    return Scrypt(salt=salt, length=32, n=params.n, r=params.r, p=params.p).derive(passphrase)


def seal_private_key(
    key: PrivateKeyTypes, passphrase: bytes, purpose: str, label: str, params: ScryptParams = SCRYPT
) -> bytes:
    """The sealed-key file (module docstring) of `key` under `passphrase`."""
    if not passphrase:
        raise IdentityError("a sealed key needs a passphrase")
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    salt, nonce = secrets.token_bytes(16), secrets.token_bytes(12)
    kdf = {"name": "scrypt", "n": params.n, "r": params.r, "p": params.p, "salt": _b64(salt)}
    header = {
        "v": 1,
        "purpose": purpose,
        "label": label,
        "kdf": kdf,
        "cipher": {"name": "AES-256-GCM", "nonce": _b64(nonce)},
    }
    ciphertext = AESGCM(_derive(passphrase, salt, params)).encrypt(nonce, der, _aad(header))
    body = json.dumps({**header, "ciphertext": _b64(ciphertext)}, sort_keys=True, separators=(",", ":")).encode()
    return _BEGIN + b"\n" + base64.encodebytes(body) + _END + b"\n"


def _parse_sealed(data: bytes) -> tuple[dict[str, Any], ScryptParams, bytes, bytes, bytes]:
    """(header, scrypt parameters, salt, nonce, ciphertext); ValueError/KeyError/TypeError when malformed."""
    text = data.strip()
    if not (text.startswith(_BEGIN) and text.endswith(_END)):
        raise ValueError("no sealed-key armour")
    doc = json.loads(base64.b64decode(b"".join(text[len(_BEGIN) : -len(_END)].split()), validate=True))
    if not isinstance(doc, dict) or set(doc) != _FIELDS or doc["v"] != 1:
        raise ValueError("not a version-1 sealed key")
    kdf, cipher = doc["kdf"], doc["cipher"]
    if set(kdf) != _KDF_FIELDS or kdf["name"] != "scrypt" or cipher.get("name") != "AES-256-GCM":
        raise ValueError("unknown key derivation or cipher")
    n, r, p = kdf["n"], kdf["r"], kdf["p"]
    if not all(type(v) is int for v in (n, r, p)) or n < 2 or n & (n - 1):
        raise ValueError("scrypt parameters must be integers, n a power of two")
    if n > _MAX_N or not 1 <= r <= _MAX_R or not 1 <= p <= _MAX_P or 128 * r * n > _MAX_MEMORY:
        raise ValueError("scrypt parameters out of bounds")
    salt, nonce = base64.b64decode(kdf["salt"], validate=True), base64.b64decode(cipher["nonce"], validate=True)
    ciphertext = base64.b64decode(doc["ciphertext"], validate=True)
    if len(salt) < 16 or len(nonce) != 12 or len(ciphertext) < 17:
        raise ValueError("salt, nonce or ciphertext of the wrong size")
    header = {k: v for k, v in doc.items() if k != "ciphertext"}
    return header, ScryptParams(n, r, p), salt, nonce, ciphertext


def sealed_params(data: bytes) -> ScryptParams | None:
    """The scrypt parameters a sealed key was written with; None for any other format."""
    try:
        return _parse_sealed(data)[1]
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error):
        return None


def open_private_key(data: bytes, passphrase: bytes | None, purpose: str, label: str) -> tuple[PrivateKeyTypes, bool]:
    """(the key, whether it is in the old PBKDF2 format) from any of the three formats. Every failure is an
    IdentityError; a wrong passphrase and a tampered file cannot be told apart (GCM only says 'not authentic')."""
    what = "private key" if purpose == _SIGNING else f"{purpose} key"
    if data.lstrip().startswith(_BEGIN):
        if not passphrase:
            raise IdentityError(f"the {what} of {label!r} is encrypted: give its passphrase")
        try:
            header, params, salt, nonce, ciphertext = _parse_sealed(data)
        except (ValueError, KeyError, TypeError, AttributeError, binascii.Error):
            raise IdentityError(f"the {what} of {label!r} is damaged (not a sealed key this version reads)") from None
        if header["purpose"] != purpose or header["label"] != label:
            raise IdentityError(f"the {what} file of {label!r} was sealed for another entry or use: refused")
        try:
            der = AESGCM(_derive(passphrase, salt, params)).decrypt(nonce, ciphertext, _aad(header))
        except InvalidTag:
            raise IdentityError(f"cannot open the {what} of {label!r}: wrong passphrase?") from None
        return serialization.load_der_private_key(der, password=None), False
    try:
        key = serialization.load_pem_private_key(data, password=passphrase or None)
    except (ValueError, TypeError) as exc:
        raise IdentityError(f"cannot open the {what} of {label!r}: wrong passphrase?") from exc
    return key, bool(passphrase) and _LEGACY_BEGIN in data


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
            key_pem = self._seal(identity.private_key, passphrase, _SIGNING, label)
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
                stored, old if meta.get("encrypted") == "yes" else None, _ENCRYPTION, label
            )
            new_encryption_pem = self._seal(encryption_key, new, _ENCRYPTION, label)
        key_pem = self._seal(identity.private_key, new, _SIGNING, label)

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
        """Store the member's encryption private key. With `passphrase` the key (PKCS#8 PEM, plain or encrypted
        under that passphrase) is sealed; without, `pem` is stored as given (plain for wallets without a
        passphrase; a caller's own PKCS#8 encryption is re-sealed the next time it is opened)."""
        if passphrase:
            encrypted = _LEGACY_BEGIN in pem or pem.lstrip().startswith(_BEGIN)
            key, _ = open_private_key(pem, passphrase if encrypted else None, _ENCRYPTION, label)
            pem = self._seal(key, passphrase, _ENCRYPTION, label)
        self._commit(label, lambda d: write_atomic(d / _ENCRYPTION_KEY, pem, mode=0o600))

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
        key, legacy = open_private_key(stored, passphrase, _ENCRYPTION, label)
        if legacy and passphrase:
            self._upgrade(label, _ENCRYPTION_KEY, stored, key, passphrase, _ENCRYPTION)
        return key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

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
        key, legacy = open_private_key(key_pem, passphrase if encrypted else None, _SIGNING, label)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise IdentityError(f"the private key of {label!r} is not an EC key (Fabric identities use P-256)")
        if legacy and passphrase:
            self._upgrade(label, _SIGNING_KEY, key_pem, key, passphrase, _SIGNING)
        return SigningIdentity(msp_id=meta["msp_id"], certificate_pem=cert, private_key=key)

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
