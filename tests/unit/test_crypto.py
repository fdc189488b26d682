from __future__ import annotations

import json
import os

import pytest
from careledger.crypto import (
    RecordRef,
    content_address,
    load_private_key,
    new_encryption_key,
    new_record_key,
    open_blob,
    private_key_pem,
    public_jwk,
    rewrap_key,
    rotate,
    seal,
    unwrap_key,
    wrap_key,
)
from careledger.errors import IntegrityError
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

REC = RecordRef("rec-1", "h1-patient-1", 1)
FHIR = json.dumps({"resourceType": "Observation", "status": "final", "valueQuantity": {"value": 14.2}}).encode()


def test_seal_and_open_round_trip() -> None:
    key = new_record_key()
    blob = seal(FHIR, key, REC)
    assert blob.startswith(b"CLR1")
    assert FHIR not in blob
    assert open_blob(blob, key, REC) == FHIR
    assert content_address(blob) == __import__("hashlib").sha256(blob).hexdigest()


def test_each_seal_uses_a_fresh_nonce() -> None:
    key = new_record_key()
    assert seal(FHIR, key, REC) != seal(FHIR, key, REC)


@pytest.mark.parametrize("position", [0, 5, 20, -1])
def test_tampered_ciphertext_is_detected(position: int) -> None:
    key = new_record_key()
    blob = bytearray(seal(FHIR, key, REC))
    blob[position] ^= 0x01
    with pytest.raises(IntegrityError):
        open_blob(bytes(blob), key, REC)


@pytest.mark.parametrize(
    "other",
    [
        RecordRef("rec-2", "h1-patient-1", 1),
        RecordRef("rec-1", "h1-patient-2", 1),
        RecordRef("rec-1", "h1-patient-1", 2),
    ],
)
def test_associated_data_binds_record_patient_and_version(other: RecordRef) -> None:
    key = new_record_key()
    with pytest.raises(IntegrityError, match="altered"):
        open_blob(seal(FHIR, key, REC), key, other)


def test_truncated_blob_is_refused() -> None:
    with pytest.raises(IntegrityError, match="truncated"):
        open_blob(b"CLR1short", new_record_key(), REC)


def test_wrap_and_unwrap_for_a_recipient() -> None:
    alice = new_encryption_key()
    key = new_record_key()
    wrapped = wrap_key(key, REC, public_jwk(alice))
    assert wrapped["recipients"][0]["header"]["alg"] == "ECDH-ES+A256KW"
    assert unwrap_key(wrapped, REC, alice) == key


def test_wrong_private_key_cannot_unwrap() -> None:
    wrapped = wrap_key(new_record_key(), REC, public_jwk(new_encryption_key()))
    with pytest.raises(IntegrityError, match="cannot be opened"):
        unwrap_key(wrapped, REC, new_encryption_key())


def test_swapped_wrapped_key_from_another_record_is_refused() -> None:
    alice = new_encryption_key()
    wrapped_for_rec2 = wrap_key(new_record_key(), RecordRef("rec-2", "h1-patient-1", 1), public_jwk(alice))
    with pytest.raises(IntegrityError, match="belongs to"):
        unwrap_key(wrapped_for_rec2, REC, alice)


@pytest.mark.parametrize("field", ["encrypted_key", "ciphertext", "tag", "protected"])
def test_tampered_wrapped_key_is_detected(field: str) -> None:
    alice = new_encryption_key()
    wrapped = wrap_key(new_record_key(), REC, public_jwk(alice))
    target = wrapped["recipients"][0] if field == "encrypted_key" else wrapped
    value = target[field]
    target[field] = ("A" if value[0] != "A" else "B") + value[1:]
    with pytest.raises(IntegrityError):
        unwrap_key(wrapped, REC, alice)


def test_rewrap_for_a_new_grantee() -> None:
    alice, bob = new_encryption_key(), new_encryption_key()
    key = new_record_key()
    for_alice = wrap_key(key, REC, public_jwk(alice))
    for_bob = rewrap_key(for_alice, REC, alice, public_jwk(bob))
    assert unwrap_key(for_bob, REC, bob) == key


def test_rotation_reencrypts_for_the_remaining_recipients_only() -> None:
    alice, bob = new_encryption_key(), new_encryption_key()
    key = new_record_key()
    blob = seal(FHIR, key, REC)
    new_blob, new_ref, wrapped = rotate(blob, key, REC, {"alice": public_jwk(alice)})
    assert new_ref.version == 2
    assert set(wrapped) == {"alice"}
    new_key = unwrap_key(wrapped["alice"], new_ref, alice)
    assert new_key != key
    assert open_blob(new_blob, new_key, new_ref) == FHIR
    with pytest.raises(IntegrityError):
        open_blob(new_blob, key, new_ref)  # the old key (which bob may still have) opens nothing new
    del bob


@pytest.mark.parametrize("passphrase", [None, b"pass phrase"])
def test_private_key_pem_round_trip(passphrase: bytes | None) -> None:
    key = new_encryption_key()
    pem = private_key_pem(key, passphrase)
    assert (b"ENCRYPTED" in pem) == bool(passphrase)
    assert load_private_key(pem, passphrase).as_dict(private=True) == key.as_dict(private=True)


def test_interop_jwcrypto_enforces_the_critical_binding_and_then_opens_the_key() -> None:
    """A second, independent JOSE implementation: the `careledger` binding is critical, so it refuses the
    key until it is told what the parameter is (RFC 7516 4.1.13), and then opens it."""
    from jwcrypto import jwe as jw_jwe
    from jwcrypto import jwk as jw_jwk
    from jwcrypto.common import JWSEHeaderParameter

    alice = new_encryption_key()
    key = new_record_key()
    wrapped = wrap_key(key, REC, public_jwk(alice))
    private = jw_jwk.JWK(**alice.as_dict(private=True))
    with pytest.raises(jw_jwe.InvalidJWEData, match="Unknown critical header"):
        jw_jwe.JWE().deserialize(json.dumps(wrapped), key=private)
    token = jw_jwe.JWE(header_registry={"careledger": JWSEHeaderParameter("record binding", True, True, None)})
    token.deserialize(json.dumps(wrapped), key=private)
    assert token.payload == key
    assert json.loads(token.objects["protected"])["careledger"]["record_id"] == "rec-1"


def test_the_recipient_kid_is_the_thumbprint_registered_with_its_jwk() -> None:
    alice = new_encryption_key()
    registered = public_jwk(alice)
    wrapped = wrap_key(new_record_key(), REC, registered)
    assert wrapped["recipients"][0]["header"]["kid"] == registered["kid"] == alice.thumbprint()  # RFC 7638


def test_keys_wrapped_before_crit_and_thumbprints_still_open() -> None:
    """The previous format: no `crit`, the member id as `kid` (what ledgers written before hold)."""
    from joserfc import jwe
    from joserfc.registry import HeaderParameter

    alice, key = new_encryption_key(), new_record_key()
    binding = {"record_id": REC.record_id, "patient_id": REC.patient_id, "version": REC.version}
    protected = {"enc": "A256GCM", "cty": "application/careledger-record-key", "careledger": binding}
    message = jwe.GeneralJSONEncryption(protected, key)
    message.add_recipient({"alg": "ECDH-ES+A256KW", "kid": "h1-patient-1"}, alice)
    registry = jwe.JWERegistry(header_registry={"careledger": HeaderParameter("binding", lambda value: None)})
    old = dict(jwe.encrypt_json(message, None, registry=registry))
    assert unwrap_key(old, REC, alice) == key


def test_envelope_matches_raw_aes_gcm_output_size() -> None:
    key = new_record_key()
    plaintext = os.urandom(4096)
    raw = AESGCM(key).encrypt(os.urandom(12), plaintext, None)
    assert len(seal(plaintext, key, REC)) == len(raw) + 4 + 12  # magic + nonce, nothing else
