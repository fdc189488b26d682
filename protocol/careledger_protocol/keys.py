"""Members' public encryption keys as JWKs, and the name (`kid`) every party gives one: its RFC 7638
thumbprint. The chaincode sets it on registration, the client addresses wrapped keys with it, and any JOSE
library computes the same value from the key alone."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping

# RFC 7638 section 3.2: the members that define an EC key, the only ones its thumbprint covers.
EC_THUMBPRINT_MEMBERS = ("crv", "kty", "x", "y")


def jwk_thumbprint(jwk: Mapping[str, object]) -> str:
    """The RFC 7638 SHA-256 thumbprint of an EC public JWK, base64url without padding."""
    missing = [name for name in EC_THUMBPRINT_MEMBERS if not isinstance(jwk.get(name), str)]
    if missing:
        raise ValueError(f"an EC JWK needs {', '.join(missing)} to have a thumbprint")
    required = {name: jwk[name] for name in EC_THUMBPRINT_MEMBERS}
    digest = hashlib.sha256(json.dumps(required, separators=(",", ":"), sort_keys=True).encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


# Why a member's key is reported compromised (ReportKeyCompromised); a recovery marks the old key "recovery".
COMPROMISE_REASONS = ("lost-device", "stolen-device", "left-organization", "key-exposed")
# How an organization's admin proved the identity of a member whose key it recovers (OpenKeyRecovery).
PROOFING_METHODS = ("in-person", "video-call", "trusted-referee")
