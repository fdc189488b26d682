"""Connecting to the consortium from a Fabric common connection profile and a wallet: a fabric_gateway
Gateway signed by the wallet's key, whose chaincode refusals arrive as careledger.errors types."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fabric_gateway import Deadlines, Gateway, Identity, signers, tls_channel

from ._signing import SigningIdentity
from ._wallet import Wallet
from .errors import IdentityError, refusal_from


def load_profile(path: Path) -> dict[str, Any]:
    try:
        profile: dict[str, Any] = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise IdentityError(f"connection profile {path} not found: is the network up (`make network-up`)?") from None
    return profile


def wallet_dir(profile: dict[str, Any], profile_path: Path) -> Path:
    """Where a profile's identities are: its x-careledger.wallet, else the profile's own folder."""
    return Path(profile.get("x-careledger", {}).get("wallet", Path(profile_path).parent))


def outbox_dir(profile: dict[str, Any], profile_path: Path) -> Path:
    """Where an organization keeps the ciphertexts its store may not hold yet (careledger.services._outbox):
    its x-careledger.outbox, else beside its wallets: `<state>/wallets/<org key>` has `<state>/outbox/<org
    key>`, and a wallet folder laid out otherwise keeps it in its hidden `.outbox` sub-folder."""
    named = profile.get("x-careledger", {}).get("outbox")
    if named:
        return Path(named)
    wallets = wallet_dir(profile, profile_path)
    if wallets.parent.name == "wallets":
        return wallets.parent.parent / "outbox" / wallets.name
    return wallets / ".outbox"


def gateway_for(identity: SigningIdentity, channel: Any, deadlines: Deadlines | None = None) -> Gateway:
    """A gateway over a grpc channel, as `identity`, with CareLedger's refusal types."""
    return Gateway.connect(
        Identity(identity.msp_id, identity.certificate_pem),
        channel,
        sign=signers.for_private_key(identity.private_key),
        deadlines=deadlines,
        refine_endorse_error=refusal_from,
    )


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
    org = profile["organizations"][profile["client"]["organization"]]
    peer_name = peer or org["peers"][0]
    if peer_name not in profile["peers"]:
        raise IdentityError(f"peer {peer_name!r} is not in {profile_path}; known: {', '.join(profile['peers'])}")
    entry = profile["peers"][peer_name]
    identity = Wallet(wallet_dir(profile, profile_path)).get(user, passphrase)
    if identity.msp_id != org["mspid"]:
        raise IdentityError(f"{user} belongs to {identity.msp_id}, not to {org['mspid']} of this profile")
    channel = tls_channel(
        entry["url"],
        entry["tlsCACerts"]["pem"].encode(),
        server_name=entry.get("grpcOptions", {}).get("ssl-target-name-override", ""),
    )
    return gateway_for(identity, channel, deadlines)
