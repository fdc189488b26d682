"""Wallet keys sealed with scrypt + AES-256-GCM: round trips, refusals, and the upgrade of old PBKDF2 entries."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from careledger import IdentityError, SigningIdentity, Wallet
from careledger._sealed_keys import SCRYPT, ScryptParams, sealed_params
from careledger._signing import new_private_key
from careledger._wallet import write_msp
from cryptography.hazmat.primitives import serialization

from .local_tls import certificate_pem

CHEAP = ScryptParams(n=2**10)  # the format is the same; the default cost is checked once below
SIGNING_KEY = Path("msp/keystore/key.pem")
ENCRYPTION_KEY = Path("encryption/key.pem")


def _identity() -> SigningIdentity:
    key = new_private_key()
    return SigningIdentity("Hospital1MSP", certificate_pem(key), key)


def _pkcs8(key: Any, passphrase: bytes | None = None) -> bytes:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def _same(a: Any, b: Any) -> bool:
    return a.private_numbers() == b.private_numbers()


def _legacy_entry(wallet: Wallet, label: str, passphrase: bytes) -> tuple[SigningIdentity, Any]:
    """An entry as wallets before sealing wrote it: both keys PKCS#8-encrypted by BestAvailableEncryption."""
    identity, encryption_key = _identity(), new_private_key()
    meta = {"role": "patient", "encrypted": "yes"}
    key_pem = _pkcs8(identity.private_key, passphrase)
    wallet._commit(label, lambda d: write_msp(d, identity.msp_id, identity.certificate_pem, key_pem, b"ca", extra=meta))
    wallet.put_encryption_key(label, _pkcs8(encryption_key, passphrase))  # a caller's own encryption: kept as given
    return identity, encryption_key


def _read(wallet: Wallet, label: str, relative: Path) -> bytes:
    return (wallet.path(label) / relative).read_bytes()


def _doc(sealed: bytes) -> dict[str, Any]:
    lines = sealed.strip().splitlines()
    return dict(json.loads(base64.b64decode(b"".join(lines[1:-1]))))


def _armour(doc: dict[str, Any]) -> bytes:
    body = base64.encodebytes(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode())
    return (
        b"-----BEGIN CARELEDGER ENCRYPTED PRIVATE KEY-----\n"
        + body
        + b"-----END CARELEDGER ENCRYPTED PRIVATE KEY-----\n"
    )


def test_sealed_round_trip_records_its_parameters(tmp_path: Path) -> None:
    wallet = Wallet(tmp_path)  # the production cost, once
    identity, encryption_key = _identity(), new_private_key()
    wallet.put("alice", identity, b"ca", passphrase=b"correct horse")
    wallet.put_encryption_key("alice", _pkcs8(encryption_key), passphrase=b"correct horse")
    for relative, purpose in ((SIGNING_KEY, "signing"), (ENCRYPTION_KEY, "encryption")):
        sealed = _read(wallet, "alice", relative)
        assert sealed.startswith(b"-----BEGIN CARELEDGER ENCRYPTED PRIVATE KEY-----")
        assert sealed_params(sealed) == SCRYPT == ScryptParams(n=2**15, r=8, p=1)
        doc = _doc(sealed)
        assert doc["purpose"] == purpose
        assert doc["label"] == "alice"
        assert doc["kdf"]["name"] == "scrypt"
        assert doc["cipher"]["name"] == "AES-256-GCM"
        assert (wallet.path("alice") / relative).stat().st_mode & 0o777 == 0o600
    assert _same(wallet.get("alice", b"correct horse").private_key, identity.private_key)
    opened = wallet.open_encryption_key("alice", b"correct horse")
    assert opened is not None
    assert _same(serialization.load_pem_private_key(opened, None), encryption_key)


def test_wrong_or_missing_passphrase_is_an_identity_error(tmp_path: Path) -> None:
    wallet = Wallet(tmp_path, kdf=CHEAP)
    wallet.put("bob", _identity(), b"ca", passphrase=b"secret")
    wallet.put_encryption_key("bob", _pkcs8(new_private_key()), passphrase=b"secret")
    with pytest.raises(IdentityError, match="wrong passphrase"):
        wallet.get("bob", b"guess")
    with pytest.raises(IdentityError, match="wrong passphrase"):
        wallet.open_encryption_key("bob", b"guess")
    with pytest.raises(IdentityError, match="give its passphrase"):
        wallet.get("bob")
    with pytest.raises(IdentityError, match="give its passphrase"):
        wallet.open_encryption_key("bob")


def test_wallets_without_passphrase_stay_plain_pkcs8(tmp_path: Path) -> None:
    wallet = Wallet(tmp_path, kdf=CHEAP)
    identity = _identity()
    wallet.put("peer-admin", identity, b"ca")
    wallet.put_encryption_key("peer-admin", _pkcs8(new_private_key()))
    assert _read(wallet, "peer-admin", SIGNING_KEY).startswith(b"-----BEGIN PRIVATE KEY-----")  # Fabric reads it
    assert _read(wallet, "peer-admin", ENCRYPTION_KEY).startswith(b"-----BEGIN PRIVATE KEY-----")
    assert _same(wallet.get("peer-admin").private_key, identity.private_key)
    assert wallet.open_encryption_key("peer-admin") is not None
    assert wallet.open_encryption_key("nobody-yet") is None


def test_old_format_entry_opens_and_each_key_is_resealed_when_opened(tmp_path: Path) -> None:
    wallet = Wallet(tmp_path, kdf=CHEAP)
    identity, encryption_key = _legacy_entry(wallet, "carol", b"old style")
    assert _read(wallet, "carol", SIGNING_KEY).startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")

    with pytest.raises(IdentityError, match="wrong passphrase"):
        wallet.get("carol", b"not it")
    assert sealed_params(_read(wallet, "carol", SIGNING_KEY)) is None  # a wrong passphrase upgrades nothing

    assert _same(wallet.get("carol", b"old style").private_key, identity.private_key)
    assert sealed_params(_read(wallet, "carol", SIGNING_KEY)) == CHEAP
    assert sealed_params(_read(wallet, "carol", ENCRYPTION_KEY)) is None  # not opened yet

    opened = wallet.open_encryption_key("carol", b"old style")
    assert opened is not None
    assert _same(serialization.load_pem_private_key(opened, None), encryption_key)
    assert sealed_params(_read(wallet, "carol", ENCRYPTION_KEY)) == CHEAP
    assert _same(wallet.get("carol", b"old style").private_key, identity.private_key)  # and it opens again
    assert wallet.metadata("carol")["role"] == "patient"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".carol.") and p.is_dir()] == [
        wallet.path("carol").resolve().name
    ]  # each upgrade was a whole-entry switch, and the old versions are gone


def test_set_passphrase_seals_both_keys_of_an_old_entry(tmp_path: Path) -> None:
    wallet = Wallet(tmp_path, kdf=CHEAP)
    identity, encryption_key = _legacy_entry(wallet, "dave", b"old style")
    wallet.set_passphrase("dave", b"new passphrase", b"old style")
    assert sealed_params(_read(wallet, "dave", SIGNING_KEY)) == CHEAP
    assert sealed_params(_read(wallet, "dave", ENCRYPTION_KEY)) == CHEAP
    with pytest.raises(IdentityError):
        wallet.get("dave", b"old style")
    assert _same(wallet.get("dave", b"new passphrase").private_key, identity.private_key)
    opened = wallet.open_encryption_key("dave", b"new passphrase")
    assert _same(serialization.load_pem_private_key(opened or b"", None), encryption_key)


def test_an_upgrade_never_overwrites_a_newer_version(tmp_path: Path) -> None:
    wallet = Wallet(tmp_path, kdf=CHEAP)
    identity, _ = _legacy_entry(wallet, "erin", b"old style")
    read_before = _read(wallet, "erin", SIGNING_KEY)
    wallet.set_passphrase("erin", b"changed meanwhile", b"old style")  # another process, between read and upgrade
    wallet._upgrade("erin", SIGNING_KEY, read_before, identity.private_key, b"old style", "signing")
    assert _same(wallet.get("erin", b"changed meanwhile").private_key, identity.private_key)
    with pytest.raises(IdentityError):
        wallet.get("erin", b"old style")
    assert (
        len([p for p in tmp_path.iterdir() if p.name.startswith(".erin.") and p.is_dir()]) == 1
    )  # no staged leftovers


@pytest.mark.parametrize(
    "tamper",
    [
        "ciphertext",
        "nonce",
        "salt",
        "n",
        "label",
        "purpose",
        "huge-n",
        "not-base64",
        "extra-field",
        "truncated",
    ],
)
def test_tampered_sealed_keys_are_refused(tmp_path: Path, tamper: str) -> None:
    wallet = Wallet(tmp_path, kdf=CHEAP)
    wallet.put("frank", _identity(), b"ca", passphrase=b"secret")
    sealed = _read(wallet, "frank", SIGNING_KEY)
    doc = _doc(sealed)
    kdf, cipher = dict(doc["kdf"]), dict(doc["cipher"])
    flipped = lambda b64: base64.b64encode(bytes([base64.b64decode(b64)[0] ^ 1]) + base64.b64decode(b64)[1:]).decode()  # noqa: E731
    if tamper == "ciphertext":
        doc["ciphertext"] = flipped(doc["ciphertext"])
    elif tamper == "nonce":
        doc["cipher"] = {**cipher, "nonce": flipped(cipher["nonce"])}
    elif tamper == "salt":
        doc["kdf"] = {**kdf, "salt": flipped(kdf["salt"])}
    elif tamper == "n":
        doc["kdf"] = {**kdf, "n": 2**11}  # a valid cost, but not the one the key was sealed with
    elif tamper == "label":
        doc["label"] = "mallory"
    elif tamper == "purpose":
        doc["purpose"] = "encryption"
    elif tamper == "huge-n":
        doc["kdf"] = {**kdf, "n": 2**40}  # refused before any memory is asked for
    elif tamper == "extra-field":
        doc["note"] = "hello"
    data = _armour(doc)
    if tamper == "not-base64":
        data = sealed.replace(sealed.splitlines()[1], b"!!!!" + sealed.splitlines()[1][4:])
    elif tamper == "truncated":
        data = sealed[: len(sealed) // 2]
    (wallet.path("frank") / SIGNING_KEY).write_bytes(data)
    with pytest.raises(IdentityError):
        wallet.get("frank", b"secret")


def test_a_sealed_key_copied_into_another_entry_does_not_open(tmp_path: Path) -> None:
    wallet = Wallet(tmp_path, kdf=CHEAP)
    wallet.put("grace", _identity(), b"ca", passphrase=b"same passphrase")
    wallet.put("heidi", _identity(), b"ca", passphrase=b"same passphrase")
    (wallet.path("heidi") / SIGNING_KEY).write_bytes(_read(wallet, "grace", SIGNING_KEY))
    with pytest.raises(IdentityError, match="another entry"):
        wallet.get("heidi", b"same passphrase")


def test_the_entry_decides_whether_the_encryption_key_is_sealed(tmp_path: Path) -> None:
    wallet = Wallet(tmp_path, kdf=CHEAP)
    wallet.put("ivan", _identity(), b"ca")  # no passphrase: a CLI user may still have one in the environment
    key = new_private_key()
    wallet.put_encryption_key("ivan", _pkcs8(key), passphrase=b"from the environment")
    assert _read(wallet, "ivan", ENCRYPTION_KEY).startswith(b"-----BEGIN PRIVATE KEY-----")
    opened = wallet.open_encryption_key("ivan", b"from the environment")  # ignored, as `get` ignores it
    assert _same(serialization.load_pem_private_key(opened or b"", None), key)

    wallet.put("judy", _identity(), b"ca", passphrase=b"secret")
    wallet.put_encryption_key("judy", _pkcs8(new_private_key()))  # a plain key in a protected entry
    with pytest.raises(IdentityError):
        wallet.open_encryption_key("judy", b"secret")


def test_export_writes_a_plain_msp_folder_the_fabric_tools_can_read(tmp_path: Path) -> None:
    wallet = Wallet(tmp_path / "wallet", kdf=CHEAP)
    identity = _identity()
    wallet.put("bob", identity, b"ca-chain", passphrase=b"secret")
    with pytest.raises(IdentityError, match="give its passphrase"):
        wallet.export_msp("bob", tmp_path / "out")
    msp = wallet.export_msp("bob", tmp_path / "out", b"secret")
    key = serialization.load_pem_private_key((msp / "keystore" / "key.pem").read_bytes(), password=None)
    assert key.private_numbers() == identity.private_key.private_numbers()  # type: ignore[union-attr]
    assert (msp / "signcerts" / "cert.pem").read_bytes() == identity.certificate_pem
    assert (msp / "config.yaml").exists()
    assert (msp / "keystore" / "key.pem").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "out").stat().st_mode & 0o777 == 0o700
    with pytest.raises(IdentityError, match="exists"):
        wallet.export_msp("bob", tmp_path / "out", b"secret")  # never over what is there
