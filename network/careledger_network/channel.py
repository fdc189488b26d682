"""The channel's configuration, as an organization's admin changes it: joining, reading the newest config
block, and config updates (a CRL into an MSP definition, the block-reading ACLs), each applied once every
peer has committed it. Commands go to whichever orderer serves them."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from careledger import write_atomic

from . import block_access, config_update, crypto, revocation
from .consortium import Consortium, Orderer, Org
from .errors import NetworkError
from .fabric_cli import CommandError, FabricCLI

T = TypeVar("T")
_UNAVAILABLE = ("SERVICE_UNAVAILABLE", "connection refused", "Unavailable")


class ChannelAdmin:
    def __init__(self, consortium: Consortium, state: Path, cli: Callable[[], FabricCLI]) -> None:
        self.c = consortium
        self.state = state
        self._cli = cli  # built on first use: it needs the Fabric binaries

    @property
    def work(self) -> Path:
        work = self.state / "configtx" / "updates"
        work.mkdir(parents=True, exist_ok=True)
        return work

    def join(self) -> None:
        """Every orderer and every peer joins the channel."""
        cli = self._cli()
        with ThreadPoolExecutor(max_workers=6) as pool:
            jobs = [pool.submit(cli.orderer_join, o) for o in self.c.orderers]
            jobs += [pool.submit(cli.peer_join, org, p) for org in self.c.orgs for p in org.peers]
            for job in jobs:
                job.result()

    def on_any_orderer(self, action: Callable[[Orderer], T], deadline: float) -> T:
        """Run a peer CLI command against the orderers in turn until one serves it: right after a restart
        or a leader change an orderer answers SERVICE_UNAVAILABLE for a few seconds."""
        while True:
            for orderer in self.c.orderers:
                try:
                    return action(orderer)
                except CommandError as exc:
                    if not any(s in exc.output for s in _UNAVAILABLE):
                        raise
                    last = exc
            if time.monotonic() > deadline:
                raise last
            time.sleep(0.5)

    def config(self, org: Org, timeout: float = 30.0) -> tuple[int, Any]:
        """The number and content (a common.Config) of the channel's newest config block, fetched as the
        org's admin from whichever orderer serves it."""
        into = self.work / f"{org.key}-config.block"
        deadline = time.monotonic() + timeout
        return revocation.config_from_block(
            self.on_any_orderer(lambda o: self._cli().fetch_config_block(org, into, o), deadline)
        )

    def publish_crl(self, org: Org, crl: bytes, timeout: float) -> int:
        """Put the CRL into the org's MSP definition and wait until every peer has committed that config."""
        deadline = time.monotonic() + timeout
        before, config = self.config(org, timeout)
        envelope = self.work / f"{org.key}-revocation.pb"
        write_atomic(envelope, revocation.msp_revocation_update(config, self.c.channel, org.msp_id, crl))
        return self.apply_update(org, envelope, before, deadline)

    def restrict_block_access(self, timeout: float = 60.0) -> int:
        """Put the BlockReaders policy and the ACLs that use it on the channel (block_access.py), signed by
        every application organization's admin and the orderer organization's; a no-op once there."""
        org = self.c.orgs[0]
        deadline = time.monotonic() + timeout
        before, config = self.config(org, timeout)
        if block_access.is_restricted(config):
            return before
        apps = [
            block_access.Organization(o.msp_id, crypto.org_paths(self.state, o).ca_cert.read_bytes())
            for o in self.c.orgs
        ]
        updated = block_access.restrict(config, apps, self.c.orderer_org.msp_id)
        update = self._cli().compute_update(
            config.SerializeToString(), updated.SerializeToString(), self.work / "block-access"
        )
        signers = [crypto.wallet(self.state, o).get(o.admin) for o in (*self.c.orgs[1:], self.c.orderer_org)]
        envelope = self.work / "block-access.pb"
        write_atomic(envelope, config_update.signed_update_envelope(update, self.c.channel, signers))
        return self.apply_update(org, envelope, before, deadline)

    def apply_update(self, org: Org, envelope: Path, before: int, deadline: float) -> int:
        """Send a config update as the org's admin; return its block's number once every peer committed it."""
        cli = self._cli()
        self.on_any_orderer(lambda o: cli.channel_update(org, envelope, o), deadline)
        number = before
        while number == before:
            if time.monotonic() > deadline:
                raise NetworkError("the config update was sent but not ordered in time")
            time.sleep(0.2)
            number, _ = self.config(org, max(1.0, deadline - time.monotonic()))
        for peer_org in self.c.orgs:
            for peer in peer_org.peers:
                while cli.channel_height(peer_org, peer) <= number:
                    if time.monotonic() > deadline:
                        raise NetworkError(f"{peer.name} has not committed config block {number} in time")
                    time.sleep(0.2)
        return number
