"""Signing with a private key held in a hardware security module, through PKCS#11 (python-pkcs11, the
`hsm` extra). The key never leaves the HSM: it signs the digests the gateway makes.

    with HSMSigner("/usr/lib/softhsm/libsofthsm2.so", token_label="fabric", pin="1234", key_label="User1") as sign:
        gateway = Gateway.connect(identity, channel, sign=sign)
"""

from __future__ import annotations

import threading
from typing import Any

from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

# The curves Fabric accepts, by the DER of their OID in the key's CKA_EC_PARAMS: (group order, size).
_CURVES = {
    bytes.fromhex("06082a8648ce3d030107"): (  # P-256
        0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
        32,
    ),
    bytes.fromhex("06052b81040022"): (  # P-384
        int("ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973", 16),
        48,
    ),
}


class HSMSigner:
    """A signer (digest -> DER signature, S in the lower half) backed by an EC key in a PKCS#11 token.
    Safe to share between threads: calls into the token's session are serialised."""

    def __init__(
        self, library: str, *, token_label: str, pin: str, key_label: str | None = None, key_id: bytes | None = None
    ) -> None:
        try:
            import pkcs11
        except ImportError:
            raise RuntimeError(
                "HSM signing needs python-pkcs11: pip install 'careledger-fabric-gateway[hsm]'"
            ) from None
        self._pkcs11 = pkcs11
        try:
            token = pkcs11.lib(library).get_token(token_label=token_label)
        except (pkcs11.exceptions.NoSuchToken, pkcs11.exceptions.PKCS11Error) as exc:
            raise ValueError(f"no PKCS#11 token labelled {token_label!r} in {library}: {type(exc).__name__}") from None
        self._session = token.open(user_pin=pin)
        try:
            self._key: Any = self._session.get_key(
                object_class=pkcs11.ObjectClass.PRIVATE_KEY, key_type=pkcs11.KeyType.EC, label=key_label, id=key_id
            )
            params = bytes(self._key[pkcs11.Attribute.EC_PARAMS])
        except (pkcs11.exceptions.NoSuchKey, pkcs11.exceptions.MultipleObjectsReturned) as exc:
            self._session.close()
            raise ValueError(f"token {token_label!r} has no single EC private key {key_label or key_id!r}") from exc
        if params not in _CURVES:
            self._session.close()
            raise ValueError("the HSM key is not on P-256 or P-384, the curves Fabric accepts")
        self._order, self._size = _CURVES[params]
        self._lock = threading.Lock()

    def __call__(self, digest: bytes) -> bytes:
        with self._lock:
            raw: Any = self._key.sign(digest, mechanism=self._pkcs11.Mechanism.ECDSA)  # r || s
        r, s = int.from_bytes(raw[: self._size], "big"), int.from_bytes(raw[self._size :], "big")
        return encode_dss_signature(r, self._order - s if s > self._order // 2 else s)

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> HSMSigner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
