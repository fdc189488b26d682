"""A SoftHSM token for tests: its own token folder and configuration, an EC key pair generated inside it."""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pkcs11
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pkcs11.util.ec import encode_ec_public_key, encode_named_curve_parameters

LIBRARY = "/usr/lib/softhsm/libsofthsm2.so"
TOKEN, PIN = "careledger-test", "1234"


@dataclass(frozen=True)
class Token:
    library: str
    label: str
    pin: str

    def generate(self, key_label: str, curve: str = "secp256r1") -> ec.EllipticCurvePublicKey:
        """An EC key pair made inside the token (the private half never leaves it); returns the public key."""
        token = pkcs11.lib(self.library).get_token(token_label=self.label)
        with token.open(user_pin=self.pin, rw=True) as session:
            parameters = session.create_domain_parameters(
                pkcs11.KeyType.EC, {pkcs11.Attribute.EC_PARAMS: encode_named_curve_parameters(curve)}, local=True
            )
            public, _ = parameters.generate_keypair(store=True, label=key_label)
            der = encode_ec_public_key(public)
        key = serialization.load_der_public_key(der)
        assert isinstance(key, ec.EllipticCurvePublicKey)
        return key


_TOKEN: Token | None = None


def softhsm_token() -> Token:
    """The process's test token, made on first use in a folder of its own. SoftHSM reads SOFTHSM2_CONF
    once, when the library is first loaded, so every test of a process shares one token (and one config);
    tests tell their keys apart by label."""
    global _TOKEN
    if _TOKEN is None:
        folder = Path(tempfile.mkdtemp(prefix="careledger-softhsm-"))
        tokens = folder / "tokens"
        tokens.mkdir()
        config = folder / "softhsm2.conf"
        config.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n")
        os.environ["SOFTHSM2_CONF"] = str(config)
        subprocess.run(
            ["softhsm2-util", "--init-token", "--free", "--label", TOKEN, "--pin", PIN, "--so-pin", "5678"],
            check=True,
            capture_output=True,
        )
        _TOKEN = Token(LIBRARY, TOKEN, PIN)
    return _TOKEN
