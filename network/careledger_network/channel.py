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
from fabric_protos.common import configtx_pb2

from . import block_access, config_update, crypto, generate, revocation
from .consortium import Consortium, Orderer, Org, Peer
from .errors import NetworkError
from .fabric_cli import CommandError, FabricCLI

T = TypeVar("T")
_UNAVAILABLE = ("SERVICE_UNAVAILABLE", "connection refused", "Unavailable")


class ChannelAdmin:
    def __init__(
        self,
        consortium: Consortium,
        state: Path,
        cli: Callable[[], FabricCLI],
        local: tuple[Org, ...] | None = None,
    ) -> None:
        self.c = consortium
        self.state = state
        self._cli = cli  # built on first use: it needs the Fabric binaries
        # The organizations whose admins and nodes this state folder holds (a bundle holds one).
        self.local = local if local is not None else (consortium.orderer_org, *consortium.orgs)

    @property
    def local_peers(self) -> list[tuple[Org, Peer]]:
        return [(org, p) for org in self.c.orgs if org in self.local for p in org.peers]

    @property
    def work(self) -> Path:
        work = self.state / "configtx" / "updates"
        work.mkdir(parents=True, exist_ok=True)
        return work

    def join(self, timeout: float = 60.0) -> None:
        """Every local orderer and peer joins the channel. Orderers join with the genesis block; a peer of an
        organization that was not given it (a bundle) joins with block 0 fetched from the orderers."""
        cli = self._cli()
        orderers = [o for o in self.c.orderers if self.c.org(o.msp_id) in self.local]
        peers = self.local_peers
        if peers and not cli.genesis_block.exists():
            org = peers[0][0]
            deadline = time.monotonic() + timeout
            self.on_any_orderer(lambda o: cli.fetch_block(org, 0, cli.genesis_block, o), deadline)
        with ThreadPoolExecutor(max_workers=6) as pool:
            jobs = [pool.submit(cli.orderer_join, o) for o in orderers]
            jobs += [pool.submit(cli.peer_join, org, p) for org, p in peers]
            for job in jobs:
                job.result()

    def wait_caught_up(self, orgs: tuple[Org, ...], number: int, deadline: float) -> None:
        """Wait until the local peers of `orgs` have committed block `number`. A peer that joined with block 0
        does not yet know the config that admits its organization, so until then its own admin is refused
        (access denied): that counts as not there yet."""
        cli = self._cli()
        for org, peer in ((o, p) for o, p in self.local_peers if o in orgs):
            while True:
                try:
                    if cli.channel_height(org, peer) > number:
                        break
                except CommandError as exc:
                    if "access denied" not in exc.output:
                        raise
                if time.monotonic() > deadline:
                    raise NetworkError(f"{peer.name} has not caught up with block {number} in time")
                time.sleep(0.2)

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
        before, update = self.block_access_update(org, timeout)
        if update is None:
            return before
        signers = [crypto.wallet(self.state, o).get(o.admin) for o in (*self.c.orgs[1:], self.c.orderer_org)]
        envelope = self.work / "block-access.pb"
        write_atomic(envelope, config_update.signed_update_envelope(update, self.c.channel, signers))
        return self.apply_update(org, envelope, before, deadline)

    @property
    def _app_orderer_msps(self) -> list[str]:
        """The application organizations that run orderers (BFT): their orderers replicate blocks too."""
        return [org.msp_id for org in self.c.ordering_orgs if org is not self.c.orderer_org]

    def _readers(self, orgs: tuple[Org, ...] | list[Org]) -> list[block_access.Organization]:
        """The application organizations whose peers, admins and block readers may read blocks, with their CAs."""
        return [block_access.Organization(o.msp_id, crypto.org_paths(self.state, o).ca_cert.read_bytes()) for o in orgs]

    def block_access_update(self, org: Org, timeout: float = 30.0) -> tuple[int, bytes | None]:
        """The newest config block's number and the ConfigUpdate restricting block access (None once the
        channel has it), computed from the config as `org`'s admin fetches it."""
        before, config = self.config(org, timeout)
        if block_access.is_restricted(config):
            return before, None
        updated = block_access.restrict(
            config, self._readers(self.c.orgs), self.c.orderer_org.msp_id, self._app_orderer_msps
        )
        update = self._cli().compute_update(
            config.SerializeToString(), updated.SerializeToString(), self.work / "block-access"
        )
        return before, update

    def members(self, config: Any) -> list[Org]:
        """The application organizations of this consortium that a channel configuration names (configtxgen keys
        each organization's group by its name)."""
        groups = config.channel_group.groups["Application"].groups
        return [o for o in self.c.orgs if o.name in groups]

    def add_org_update(self, submitter: Org, new: Org, timeout: float = 30.0) -> tuple[int, list[Org], bytes | None]:
        """The newest config block's number, the application organizations the channel has, and the ConfigUpdate
        adding `new` to it (None once the channel has it), computed from the config as `submitter`'s admin
        fetches it. The organization's definition is configtxgen's (the genesis block's own section); where
        block access is restricted, the BlockReaders and /Channel/Readers policies gain its peers, admins and
        block readers, or its peer could not even pull blocks from the orderers."""
        before, config = self.config(submitter, timeout)
        members = self.members(config)
        if new in members:
            return before, members, None
        cli, work = self._cli(), self.work / f"add-{new.key}"
        group = cli.org_definition(generate.write_org_configtx(self.c, self.state, new), new.name)
        updated = configtx_pb2.Config.FromString(
            cli.with_application_org(config.SerializeToString(), new.name, group, work)
        )
        if block_access.is_restricted(config):
            readers = self._readers((*members, new))
            updated = block_access.restrict(updated, readers, self.c.orderer_org.msp_id, self._app_orderer_msps)
        update = cli.compute_update(config.SerializeToString(), updated.SerializeToString(), work)
        return before, members, update

    def apply_update(
        self, org: Org, envelope: Path, before: int, deadline: float, orgs: tuple[Org, ...] | None = None
    ) -> int:
        """Send a config update as the org's admin; return its block's number once every peer committed it
        (`orgs`: only those organizations' peers, e.g. not those of one that is only now joining)."""
        cli = self._cli()
        self.on_any_orderer(lambda o: cli.channel_update(org, envelope, o), deadline)
        number = before
        while number == before:
            if time.monotonic() > deadline:
                raise NetworkError("the config update was sent but not ordered in time")
            time.sleep(0.2)
            number, _ = self.config(org, max(1.0, deadline - time.monotonic()))
        self.wait_caught_up(self.local if orgs is None else orgs, number, deadline)
        return number
