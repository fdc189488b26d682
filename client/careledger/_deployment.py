"""What CareLedger adds to a Fabric connection profile: its "x-careledger" section, read once and typed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .connection import load_profile, outbox_dir, wallet_dir
from .errors import IdentityError


@dataclass(frozen=True)
class StoreEndpoint:
    """An organization's record store: where it listens and the CA its TLS certificate chains to."""

    url: str
    ca_pem: bytes = field(repr=False)


@dataclass(frozen=True)
class Deployment:
    """The channel and chaincode to use, where the wallet and the upload outbox are, and each organization's
    record store."""

    channel: str
    chaincode: str
    wallet_dir: Path
    stores: Mapping[str, StoreEndpoint]
    outbox_dir: Path

    @classmethod
    def of(cls, profile_path: Path) -> Deployment:
        profile = load_profile(profile_path)
        meta = profile.get("x-careledger", {})
        try:
            stores = {
                msp: StoreEndpoint(entry["url"], entry["tlsCACerts"]["pem"].encode())
                for msp, entry in meta.get("stores", {}).items()
            }
        except (KeyError, TypeError, AttributeError):
            raise IdentityError(
                f"{profile_path}: a store in x-careledger.stores lacks url or tlsCACerts.pem: regenerate the profile"
            ) from None
        return cls(
            channel=meta.get("channel", "careledger"),
            chaincode=meta.get("chaincode", "careledger"),
            wallet_dir=wallet_dir(profile, profile_path),
            stores=stores,
            outbox_dir=outbox_dir(profile, profile_path),
        )
