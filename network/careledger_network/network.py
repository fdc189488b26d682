"""Bring the consortium up, stop, start, report and tear it down; redeploy the chaincode; revoke.

The commands a person runs, composed of rooms with one job each: the process specifications (specs.py),
starting them in steps (launcher.py), the channel's configuration (channel.py) and the chaincode's
lifecycle (lifecycle.py). Only `down` deletes state.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from careledger import write_atomic
from careledger.errors import CAError, NotFound
from careledger.services import Session

from . import crypto, generate, revocation, specs
from .channel import ChannelAdmin
from .consortium import Consortium, Org
from .errors import NetworkError
from .fabric_cli import CommandError, FabricCLI
from .health import probe
from .launcher import Launcher
from .lifecycle import ChaincodeLifecycle
from .paths import Fabric, locate_fabric
from .processes import ProcessTable
from .readiness import wait_ordering
from .replica_server import make_ready, replica_server_spec
from .specs import ProcessSpec

__all__ = ["Network", "NetworkError", "ProcessSpec"]

# A certificate revoked for these reasons takes the member's encryption key with it (careledger_protocol's
# COMPROMISE_REASONS); "superseded" and "unspecified" leave the key alone unless told otherwise.
LEDGER_REASON_OF_CRL_REASON = {
    "keycompromise": "key-exposed",
    "affiliationchange": "left-organization",
    "cessationofoperation": "left-organization",
}


class Network:
    def __init__(
        self,
        consortium: Consortium,
        state: Path,
        fabric: Fabric | None = None,
        echo: Callable[[str], None] = print,
        local_orgs: tuple[Org, ...] | None = None,
    ) -> None:
        """`local_orgs`: the organizations whose processes and keys this state folder holds (default: every
        one, the single-machine network; a bundle holds one, see node.py)."""
        self.c = consortium
        self.state = state
        self._fabric = fabric
        self.echo = echo
        self.local = local_orgs if local_orgs is not None else (consortium.orderer_org, *consortium.orgs)
        self.runs_everything = local_orgs is None
        self.table = ProcessTable(state)
        self.launcher = Launcher(self.table, echo)
        self.channel = ChannelAdmin(consortium, state, lambda: self.cli, self.local)
        self.chaincode = ChaincodeLifecycle(
            consortium, state, lambda: self.cli, self.launcher, self.meta, self.save_meta, self.local
        )

    @property
    def local_peer_orgs(self) -> tuple[Org, ...]:
        """The local application organizations (those with peers)."""
        return tuple(o for o in self.c.orgs if o in self.local)

    def channel_config(self, org: Org, timeout: float = 30.0) -> tuple[int, Any]:
        """The channel's newest config block's number and content (see ChannelAdmin.config)."""
        return self.channel.config(org, timeout)

    @property
    def fabric(self) -> Fabric:
        if self._fabric is None:
            self._fabric = locate_fabric()
        return self._fabric

    @property
    def cli(self) -> FabricCLI:
        return FabricCLI(self.fabric, self.c, self.state)

    @property
    def meta_path(self) -> Path:
        return self.state / "network.json"

    def meta(self) -> dict[str, Any]:
        return json.loads(self.meta_path.read_text()) if self.meta_path.exists() else {}

    def save_meta(self, **changes: Any) -> None:
        doc = {**self.meta(), **changes}
        write_atomic(self.meta_path, (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode())

    # -- process specifications (specs.py) --------------------------------------------------------------------
    def _store_specs(self) -> list[ProcessSpec]:
        if not self.meta().get("initialized"):
            return []
        return [specs.store_spec(self.c, self.state, org) for org in self.local_peer_orgs if org.store_port]

    def _replica_specs(self) -> list[ProcessSpec]:
        """The S3 servers the network runs for stores that replicate to one (`record_store: {replica: s3proxy}`)."""
        return [
            replica_server_spec(self.state, org)
            for org in self.local_peer_orgs
            if org.store_port and org.store_replica and org.store_replica.served_by_network
        ]

    def start_replicas(self, started: list[str], replicas: list[ProcessSpec] | None = None) -> None:
        """Start the stores' replica servers without waiting: a JVM takes seconds, which the channel and chaincode
        steps cover when they start right after enrollment (their TLS pair comes from it)."""
        replicas = self._replica_specs() if replicas is None else replicas
        table = self.table.load()
        to_start = [s for s in replicas if not (s.name in table and table[s.name].alive())]
        if not to_start:  # all running: no jar to check, no folder to prepare
            return
        make_ready(self.state, [self.c.org(s.name.removeprefix("replica-")) for s in to_start])
        self.launcher.launch(to_start, started, wait=False)

    def launch_stores(self, started: list[str], names: set[str] | None = None, apps: bool = False) -> None:
        """The record stores (`names`: only those), each after the replica it checks at start is listening."""
        wanted = [s for s in self._store_specs() if names is None or s.name in names]
        if wanted:
            specs.write_store_trust(self.c, self.state)  # the file their command line names
        owners = {s.name.removeprefix("store-") for s in wanted}
        replicas = [s for s in self._replica_specs() if s.name.removeprefix("replica-") in owners]
        self.start_replicas(started, replicas)
        self.launcher.wait_running(replicas)  # a store checks its replica before it serves
        self.launcher.launch(wanted + (self._app_specs() if apps else []), started)

    def _chaincode_specs(self) -> list[ProcessSpec]:
        deployed = self.meta().get("chaincode", {}).get("package_ids", {})
        return [
            specs.chaincode_spec(self.c, self.state, org, deployed[org.key])
            for org in self.local_peer_orgs
            if org.key in deployed
        ]

    def _ca_specs(self, consortium: Consortium | None = None) -> list[ProcessSpec]:
        c = consortium or self.c
        return [specs.ca_spec(self.state, self.fabric, c.org(org.key)) for org in self.local]

    def _node_specs(self) -> list[ProcessSpec]:
        return specs.node_specs(self.c, self.state, self.fabric, self.local)

    def _app_specs(self) -> list[ProcessSpec]:
        """The web apps of a bundle's organization once it is part of the channel (the single-machine network
        starts its apps with `careledger-network apps`)."""
        if self.runs_everything or not self.meta().get("initialized"):
            return []
        return specs.app_specs(self.c, self.state, self.local)

    def _all_specs(self) -> list[ProcessSpec]:
        stores = self._replica_specs() + self._store_specs() if self.meta().get("initialized") else []
        return self._ca_specs() + self._node_specs() + self._chaincode_specs() + stores + self._app_specs()

    # -- commands --------------------------------------------------------------------------------------------
    def up(self) -> None:
        self.launcher.restart_clock()
        if self.meta().get("initialized"):
            if self.is_running():
                self.echo(
                    f"the network is already up ({len(self.table.load())} processes); `make network-status` shows them"
                )
                return
            self.echo("the network exists but is not (fully) running: starting it")
            self.start()
            return
        self.fabric  # fail early, with the install hint, when binaries are missing  # noqa: B018
        self.state.mkdir(parents=True, exist_ok=True)
        self.launcher.run_steps(self._create)
        self.launcher.step(f"network ready: channel {self.c.channel}, chaincode {self.c.chaincode_name} (sequence 1)")

    def _create(self, started: list[str]) -> None:
        self.launcher.check_ports(self.c.all_ports())
        self._enroll_everyone(self.c, started)
        self.start_replicas(started)
        self._write_channel_and_configs()
        self.launcher.launch(self._node_specs(), started)
        self.launcher.step(f"{len(self.c.orderers)} orderers and {len(self.c.peers)} peers healthy")
        self.channel.join()
        self.launcher.step(f"channel {self.c.channel} joined by every orderer and peer")
        self.launcher.step(wait_ordering(self.c, self.state, self.admin_tls_pair))
        self.channel.restrict_block_access()
        self.launcher.step("raw blocks readable only by peers, admins, auditors and event readers (channel ACLs)")
        self.chaincode.deploy(1, started)
        for org in self.c.orgs:
            generate.write_connection_profile(self.c, self.state, org)
        self.save_meta(initialized=True)
        self.chaincode.wait_ready()
        self.chaincode.migrate()
        self.launch_stores(started)
        replicated = sum(1 for o in self.local_peer_orgs if o.store_port and o.store_replica)
        self.launcher.step(
            f"{len(self._store_specs())} record stores serving (HTTPS, signed requests; {replicated} with a replica)"
        )

    def _enroll_everyone(self, c: Consortium, started: list[str]) -> None:
        """Every organization's CA (initialized and started as `c` places it), and every identity enrolled."""
        for org in (c.orderer_org, *c.orgs):
            crypto.init_ca(self.fabric, org.ca, crypto.org_paths(self.state, org), org.tls_hosts)
        self.launcher.launch(self._ca_specs(c), started)
        self.launcher.step(f"{len(c.orgs) + 1} Fabric CAs healthy")
        crypto.enroll_all(c, self.state)
        self.launcher.step("identities enrolled: nodes, TLS, admins, demo users")

    def _write_channel_and_configs(self) -> None:
        configtx = generate.write_configtx(self.c, self.state)
        self.cli.create_genesis_block(configtx)
        self._write_node_configs()
        generate.write_cli_config(self.fabric, self.state)
        self.launcher.step("channel genesis block and node configs generated")

    def generate(self) -> None:
        """Every organization's CA, identities and the channel's genesis block, without running the network:
        the CAs run on this machine's loopback just long enough to enroll, then stop. For a consortium whose
        organizations run on their own hosts: `careledger-network bundle` then cuts one folder per org."""
        self.launcher.restart_clock()
        self.fabric  # fail early, with the install hint, when binaries are missing  # noqa: B018
        self.state.mkdir(parents=True, exist_ok=True)
        loopback = self.c.with_cas_on_loopback()

        def steps(started: list[str]) -> None:
            cas = (loopback.orderer_org, *loopback.orgs)
            self.launcher.check_ports({org.ca.port: f"CA of {org.name}" for org in cas})
            try:
                self._enroll_everyone(loopback, started)
            finally:
                self.table.stop_all(list(started))
            self._write_channel_and_configs()
            generate.write_collections_config(self.c, self.state)
            for org in self.c.orgs:
                generate.write_connection_profile(self.c, self.state, org)

        self.launcher.run_steps(steps)
        self.launcher.step(f"generated {self.state}: `careledger-network bundle --org ORG --out DIR` for each org")

    def start_services(self) -> None:
        """Start the local record stores (and a bundle's web apps) once the chaincode is ready."""

        def launch(started: list[str]) -> None:
            self.launch_stores(started, apps=True)

        self.launcher.run_steps(launch)

    def admin_tls_pair(self, org: Org) -> tuple[Path, Path]:
        """The org admin's TLS client certificate and key (for /metrics and the orderer admin API)."""
        tls = crypto.wallet(self.state, org).path(org.admin) / "tls"
        return tls / "client.crt", tls / "client.key"

    def is_running(self) -> bool:
        table = self.table.load()
        names = {s.name for s in self._all_specs()}
        return bool(names) and all(n in table and table[n].alive() for n in names)

    def start(self) -> None:
        self.launcher.restart_clock()
        initialized = bool(self.meta().get("initialized"))
        if not initialized and self.runs_everything:
            raise NetworkError("there is no network to start: run `make network-up` first")
        if new := [
            o.key for o in self.c.orgs if o in self.local and not crypto.org_paths(self.state, o).ca_cert.exists()
        ]:
            raise NetworkError(
                f"{', '.join(new)}: in the consortium definition, not in this network; "
                "add it with `careledger-network join-org --org ORG`"
            )

        def steps(started: list[str]) -> None:
            for org in self.local_peer_orgs:  # cheap, and carries generator changes to an existing network
                generate.write_connection_profile(self.c, self.state, org)
            self._write_node_configs()
            if not self.runs_everything:  # a bundle's configs are written on its own host, with its paths
                generate.write_cli_config(self.fabric, self.state)
                generate.write_collections_config(self.c, self.state)
            self.launcher.launch(self._ca_specs(), started)
            crypto.enroll_all(self.c, self.state, self.local)  # only what a newer consortium definition added
            if initialized:
                self.start_replicas(started)
            self.launcher.launch(self._node_specs(), started)
            if initialized:
                self.chaincode.rejoin_peers()
            self.launcher.launch(self._chaincode_specs(), started)
            self.launch_stores(started, apps=True)
            self.launcher.step("every process healthy")
            if initialized:
                self.chaincode.wait_ready()

        self.launcher.run_steps(steps)

    def _write_node_configs(self) -> None:
        for o in (o for org in self.local for o in self.c.orderers_of(org)):
            generate.write_orderer_config(self.fabric, self.state, self.c, o)
        for org in self.local_peer_orgs:
            for p in org.peers:
                generate.write_peer_config(self.c, self.fabric, self.state, org, p)

    def revoke(
        self,
        org_key: str,
        enrollment_id: str,
        reason: str = "unspecified",
        timeout: float = 60.0,
        ledger_reason: str | None = None,
    ) -> int:
        """Revoke an identity's certificates at its org's CA and on the channel: the CA's new CRL goes into
        the org's MSP definition by a config update its admin signs. Returns the config block's number,
        once every peer has committed it (from then on peers refuse the identity). When the reason says the
        key is gone (or `ledger_reason` names why), the member's encryption key is marked compromised too."""
        if not self.is_running():
            raise NetworkError("the network is not running: `make network-up` first")
        org = self.c.org(org_key)
        if org is self.c.orderer_org:
            raise NetworkError("revoke identities of the peer organizations; the orderer org has no members")
        admin = crypto.wallet(self.state, org).get(org.admin)
        ca = crypto.ca_client(org.ca, crypto.org_paths(self.state, org))
        try:
            # Empty when nothing was left to revoke (a second run after a failed publish): then the
            # CA's current CRL is what the channel needs.
            crl = ca.revoke(admin, enrollment_id, reason) or ca.crl(admin)
        except CAError as exc:
            raise NetworkError(f"{org.name}'s CA did not revoke {enrollment_id!r}: {exc}") from None
        if not crl:
            raise NetworkError(f"{org.name}'s CA has no revoked certificate to publish for {enrollment_id!r}")
        # The record stores read each org's CRL from its MSP folder (named in their trust file) and refuse revoked
        # signers.
        write_atomic(crypto.org_paths(self.state, org).msp / "crls" / "crl.pem", crl)
        try:
            number = self.channel.publish_crl(org, crl, timeout)
        except (CommandError, revocation.RevocationError) as exc:
            raise NetworkError(
                f"{enrollment_id!r} is revoked at the CA, but publishing its CRL on the channel failed: {exc}. "
                "Run the same command again: it republishes the CA's CRL."
            ) from None
        self.echo(f"{enrollment_id} revoked by {org.name}'s CA; CRL in config block {number}, on every peer")
        ledger_reason = ledger_reason or LEDGER_REASON_OF_CRL_REASON.get(reason)
        if ledger_reason:
            self._mark_compromised(org, enrollment_id, ledger_reason)
        return number

    def _mark_compromised(self, org: Org, enrollment_id: str, reason: str) -> None:
        """The member's encryption key too: nothing is wrapped for it or released to it any more, so grants still
        pending to a clinician who left or lost a device stop releasing keys (the certificate alone does not)."""
        with Session.open(self.state / "profiles" / f"{org.key}.json", org.admin) as admin:
            try:
                admin.report_key_compromised(enrollment_id, reason)
            except NotFound:
                self.echo(f"{enrollment_id} has no key on the ledger: nothing more to mark")
                return
        self.echo(f"{enrollment_id}'s key marked compromised on the ledger ({reason})")

    def start_apps(self) -> list[str]:
        """Start the web apps: the hospital apps, the consent portal, the researcher and auditor apps (stopped with
        the rest by network-stop)."""
        if not self.is_running():
            raise NetworkError("the network is not running: `make network-up` first")
        apps = specs.app_specs(self.c, self.state)

        def launch(started: list[str]) -> None:
            self.launcher.launch(apps, started)

        self.launcher.run_steps(launch)
        return [s.health_url.removesuffix("login") for s in apps]

    def stop(self) -> list[str]:
        stopped = self.table.stop_all()
        self.echo(f"stopped {len(stopped)} processes; ledgers and identities kept in {self.state}")
        return stopped

    def down(self) -> None:
        stopped = self.table.stop_all()
        if self.state.exists():
            shutil.rmtree(self.state)
        self.echo(f"stopped {len(stopped)} processes and removed {self.state}")

    def upgrade_chaincode(self, rescan: bool = False) -> int:
        """Deploy the next sequence and migrate the state (`rescan`: look at every key again, not only
        where an earlier migration stopped)."""
        self.launcher.restart_clock()
        if not self.is_running():
            raise NetworkError("the network is not running: `make network-up` first")
        sequence = self.chaincode.next_sequence()
        self.channel.restrict_block_access()  # channels created before the block-reading ACLs get them now
        self.launcher.run_steps(lambda started: self.chaincode.deploy(sequence, started))
        self.chaincode.wait_ready()
        self.chaincode.migrate(rescan)
        return sequence

    def status(self) -> list[dict[str, Any]]:
        table = self.table.load()
        ca_files = {s.name: s.ca_file for s in [*self._all_specs(), *specs.app_specs(self.c, self.state, self.local)]}
        rows = []
        for name, proc in table.items():
            healthy, text = probe(proc, ca_files.get(name))
            child = self.state / "run" / f"{name}.child"
            rows.append(
                {
                    "name": name,
                    "pid": proc.pid,
                    "child_pid": int(child.read_text()) if child.exists() else None,
                    "ports": proc.ports,
                    "running": proc.alive(),
                    "healthy": healthy,
                    "health": text,
                    "log": proc.log,
                }
            )
        return rows
