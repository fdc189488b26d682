"""Connecting from a Fabric common connection profile and a wallet."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import grpc

from .._signing import SigningIdentity
from .._wallet import Wallet
from ..errors import IdentityError
from ._client import Gateway
from ._transport import Deadlines

_GRPC_OPTIONS: list[tuple[str, object]] = [
    ("grpc.max_receive_message_length", 100 * 1024 * 1024),
    ("grpc.max_send_message_length", 100 * 1024 * 1024),
    ("grpc.keepalive_time_ms", 60_000),
]


def grpc_channel(url: str, tls_root_pem: bytes, server_name: str = "") -> grpc.Channel:
    """A TLS channel to a peer (`grpcs://host:port` or `host:port`)."""
    target = url.split("://", 1)[-1]
    options = list(_GRPC_OPTIONS)
    if server_name:
        options.append(("grpc.ssl_target_name_override", server_name))
    return grpc.secure_channel(target, grpc.ssl_channel_credentials(root_certificates=tls_root_pem), options=options)


def load_profile(path: Path) -> dict[str, Any]:
    try:
        profile: dict[str, Any] = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise IdentityError(f"connection profile {path} not found: is the network up (`make network-up`)?") from None
    return profile


def connect(
    profile_path: Path,
    user: str,
    *,
    passphrase: bytes | None = None,
    peer: str | None = None,
    deadlines: Deadlines | None = None,
) -> Gateway:
    """Connect `user` (a wallet label) to the gateway of its organization's first (or the named) peer."""
    profile = load_profile(profile_path)
    org_name = profile["client"]["organization"]
    org = profile["organizations"][org_name]
    peer_name = peer or org["peers"][0]
    if peer_name not in profile["peers"]:
        raise IdentityError(f"peer {peer_name!r} is not in {profile_path}; known: {', '.join(profile['peers'])}")
    entry = profile["peers"][peer_name]
    wallet_dir = Path(profile.get("x-careledger", {}).get("wallet", Path(profile_path).parent))
    identity: SigningIdentity = Wallet(wallet_dir).get(user, passphrase)
    if identity.msp_id != org["mspid"]:
        raise IdentityError(f"{user} belongs to {identity.msp_id}, not to {org['mspid']} of this profile")
    channel = grpc_channel(
        entry["url"],
        entry["tlsCACerts"]["pem"].encode(),
        entry.get("grpcOptions", {}).get("ssl-target-name-override", ""),
    )
    return Gateway.connect(identity, channel, deadlines=deadlines)
