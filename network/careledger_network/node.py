"""One organization's part of a multi-host consortium, run from its bundle (bundle.py) on its own hosts.

`node up` runs the org's processes: its CA, its orderers or peers, and once the chaincode is there its
chaincode server, record store and web apps. The steps that cross organizations are each party's own:
joining the channel, signing the block-access update, approving the chaincode definition as its admin,
one party committing it, each party waiting until its gateway commits. Every step is the single-machine
network's own code (Network, ChannelAdmin, ChaincodeLifecycle), restricted to the bundle's organization.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from careledger import write_atomic

from . import config_update, crypto, generate, specs
from .bundle import DEFINITION, add_member, open_bundle, verify
from .consortium import RAFT, Org, load
from .errors import NetworkError
from .network import Network
from .readiness import wait_ordering


class Node:
    """A bundle's organization, on its host. The bundle folder is the state folder."""

    def __init__(self, root: Path, echo: Callable[[str], None] = print) -> None:
        consortium, org, self.manifest = open_bundle(root)
        self.root = root
        self.org: Org = org
        self.network = Network(consortium, root, echo=echo, local_orgs=(org,))
        self.echo = echo

    @property
    def is_orderer_org(self) -> bool:
        return self.org.key == self.network.c.orderer_org.key

    def _require_peers(self, what: str) -> None:
        if self.is_orderer_org:
            raise NetworkError(f"{what} is a step for the application organizations: {self.org.name} has no peers")

    # -- processes ---------------------------------------------------------------------------------------
    def up(self) -> None:
        """Check the bundle against its manifest, write the host's configs and start what the org runs."""
        verify(self.root, self.manifest)
        self.network.start()

    def stop(self) -> list[str]:
        return self.network.stop()

    # -- cross-organization steps --------------------------------------------------------------------------
    def join(self) -> None:
        """Orderer org: its orderers join with the genesis block (then a Raft leader is awaited); application
        org: its peers join with block 0 fetched from the orderers."""
        net = self.network
        net.launcher.restart_clock()
        net.channel.join()
        orderers = net.c.orderers_of(self.org)
        if orderers:
            net.launcher.step(f"{len(orderers)} orderers of {self.org.name} joined {net.c.channel}")
        if self.org.peers:
            # Caught up with the newest config first: the org's next steps read the channel through its peers
            # (an organization that joined a running channel would otherwise see no chaincode definition yet).
            newest, _ = net.channel.config(self.org)
            net.channel.wait_caught_up((self.org,), newest, time.monotonic() + 120)
            net.launcher.step(f"{len(self.org.peers)} peers of {self.org.name} joined {net.c.channel}")
        if self.is_orderer_org and net.c.consensus == RAFT:  # under BFT each ordering org joins on its own host
            net.launcher.step(wait_ordering(net.c, self.root, net.admin_tls_pair))
        net.save_meta(joined=True)

    def sign_block_access(self, update_file: Path, submit: bool, timeout: float = 60.0) -> None:
        """Add this org admin's signature to the block-access config update in `update_file` (computing it
        first, from the channel's current config, when the file does not exist yet); with `submit`, send it
        and wait until this org's peers committed it. The update needs a majority of the application
        organizations' admins and the orderer organization's admin."""

        def compute() -> bytes | None:
            return self.network.channel.block_access_update(self.org, timeout)[1]

        self._sign(update_file, submit, "the block-access update", compute, timeout)

    def add_org(self, public: Path) -> Org:
        """Take a joining organization's public part (`bundle --org ORG --public`) into this bundle: its
        certificates and the consortium definition naming it. This org's clients then know its record store,
        and this org's record store trusts its CA within seconds, without a restart."""
        joining = add_member(self.root, public)
        c = load(self.root / DEFINITION)
        if self.org.peers:
            generate.write_connection_profile(c, self.root, c.org(self.org.key))
        if self.org.store_port:
            specs.write_store_trust(c, self.root)
        self.echo(f"{joining.name} ({joining.msp_id}) added to the bundle of {self.org.name}")
        return joining

    def sign_add_org(self, org_key: str, update_file: Path, submit: bool, timeout: float = 60.0) -> None:
        """As sign_block_access, for the config update adding ORG to the channel (after `node add-org`): it
        needs a majority of the member organizations' admins and the orderer organization's admin."""
        joining = self.network.c.org(org_key)

        def compute() -> bytes | None:
            return self.network.channel.add_org_update(self.org, joining, timeout)[2]

        self._sign(update_file, submit, f"the update adding {joining.name}", compute, timeout)

    def _sign(
        self, update_file: Path, submit: bool, what: str, compute: Callable[[], bytes | None], timeout: float
    ) -> None:
        net = self.network
        admin = crypto.wallet(self.root, self.org).get(self.org.admin)
        if not update_file.exists():
            self._require_peers(f"computing {what}")
            update = compute()
            if update is None:
                self.echo(f"{net.c.channel} has it already: nothing to sign")
                return
            write_atomic(update_file, config_update.signed_update_envelope(update, net.c.channel, [admin]))
            self.echo(f"wrote {what} to {update_file}, signed by {self.org.admin}")
        elif not config_update.signed_by(update_file.read_bytes(), admin):
            write_atomic(update_file, config_update.add_signature(update_file.read_bytes(), admin))
            self.echo(f"{update_file}: signed by {self.org.admin} ({_signature_count(update_file)} signatures)")
        if submit:
            self._require_peers("submitting a config update")
            before, _ = net.channel.config(self.org, timeout)
            number = net.channel.apply_update(self.org, update_file, before, time.monotonic() + timeout)
            self.echo(f"{what}: config block {number}, committed by {self.org.name}'s peers")

    def approve(self, sequence: int | None, same_package: bool = False) -> int:
        """Install the org's CCAAS package on its peers, start its chaincode server and approve the
        definition as its admin (`same_package`: approve with the package its peers run, no new code, e.g.
        a definition whose collection gains a new member). Returns the sequence approved (default: the next)."""
        self._require_peers("approving the chaincode")
        net = self.network
        net.launcher.restart_clock()
        sequence = sequence or net.chaincode.next_sequence()
        if same_package:
            net.chaincode.approve_running(sequence)
        else:
            net.launcher.run_steps(lambda started: net.chaincode.approve(sequence, started))
        return sequence

    def commit(self) -> None:
        """Commit the definition this org approved (endorsed by every org's peers), then become ready and
        bring the ledger's state to the current layout."""
        self._require_peers("committing the chaincode")
        net = self.network
        net.launcher.restart_clock()
        sequence = int(net.chaincode.deployed().get("sequence", 0))
        if not sequence:
            raise NetworkError(f"{self.org.name} has not approved a definition yet: `chaincode approve` first")
        net.chaincode.commit(sequence)
        net.chaincode.wait_ready()
        net.chaincode.migrate()  # before the record store serves, as on one machine
        self._serve()

    def ready(self) -> None:
        """Wait until a submit through this org's gateway is endorsed and committed, then start its record
        store and web apps."""
        self._require_peers("waiting for the chaincode")
        self.network.launcher.restart_clock()
        self.network.chaincode.wait_ready()
        self._serve()

    def _serve(self) -> None:
        self.network.save_meta(initialized=True)
        self.network.start_services()
        self.network.launcher.step(f"{self.org.name}'s record store and web apps serving")


def _signature_count(envelope_file: Path) -> int:
    return len(config_update.update_envelope(envelope_file.read_bytes()).signatures)
