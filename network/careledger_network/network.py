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
from careledger.errors import CAError

from . import crypto, generate, revocation, specs
from .channel import ChannelAdmin
from .consortium import Consortium, Org
from .errors import NetworkError
from .fabric_cli import CommandError, FabricCLI
from .health import probe, wait_raft_leader
from .launcher import Launcher
from .lifecycle import ChaincodeLifecycle
from .paths import Fabric, locate_fabric
from .processes import ProcessTable
from .specs import ProcessSpec

__all__ = ["Network", "NetworkError", "ProcessSpec"]


class Network:
    def __init__(
        self,
        consortium: Consortium,
        state: Path,
        fabric: Fabric | None = None,
        echo: Callable[[str], None] = print,
    ) -> None:
        self.c = consortium
        self.state = state
        self._fabric = fabric
        self.echo = echo
        self.table = ProcessTable(state)
        self.launcher = Launcher(self.table, echo)
        self.channel = ChannelAdmin(consortium, state, lambda: self.cli)
        self.chaincode = ChaincodeLifecycle(
            consortium, state, lambda: self.cli, self.launcher, self.meta, self._save_meta
        )

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

    def _save_meta(self, **changes: Any) -> None:
        doc = {**self.meta(), **changes}
        write_atomic(self.meta_path, (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode())

    # -- process specifications (specs.py) --------------------------------------------------------------------
    def _store_specs(self) -> list[ProcessSpec]:
        if not self.meta().get("initialized"):
            return []
        return [specs.store_spec(self.c, self.state, org) for org in self.c.orgs if org.store_port]

    def _chaincode_specs(self) -> list[ProcessSpec]:
        deployed = self.meta().get("chaincode", {}).get("package_ids", {})
        return [
            specs.chaincode_spec(self.c, self.state, org, deployed[org.key])
            for org in self.c.orgs
            if org.key in deployed
        ]

    def _ca_specs(self) -> list[ProcessSpec]:
        return [specs.ca_spec(self.state, self.fabric, org) for org in (self.c.orderer_org, *self.c.orgs)]

    def _all_specs(self) -> list[ProcessSpec]:
        return (
            self._ca_specs()
            + specs.node_specs(self.c, self.state, self.fabric)
            + self._chaincode_specs()
            + self._store_specs()
        )

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
        orgs_all = (self.c.orderer_org, *self.c.orgs)
        self.launcher.check_ports(self.c.all_ports())
        for org in orgs_all:
            crypto.init_ca(self.fabric, org.ca, crypto.org_paths(self.state, org))
        self.launcher.launch(self._ca_specs(), started)
        self.launcher.step(f"{len(orgs_all)} Fabric CAs healthy")
        crypto.enroll_all(self.c, self.state)
        self.launcher.step("identities enrolled: nodes, TLS, admins, demo users")
        configtx = generate.write_configtx(self.c, self.state)
        self.cli.create_genesis_block(configtx)
        self._write_node_configs()
        generate.write_cli_config(self.fabric, self.state)
        self.launcher.step("channel genesis block and node configs generated")
        self.launcher.launch(specs.node_specs(self.c, self.state, self.fabric), started)
        self.launcher.step(f"{len(self.c.orderers)} orderers and {len(self.c.peers)} peers healthy")
        self.channel.join()
        self.launcher.step(f"channel {self.c.channel} joined by every orderer and peer")
        self._wait_raft_leader()
        self.launcher.step("Raft leader elected")
        self.channel.restrict_block_access()
        self.launcher.step("raw blocks readable only by peers, admins, auditors and event readers (channel ACLs)")
        self.chaincode.deploy(1, started)
        for org in self.c.orgs:
            generate.write_connection_profile(self.c, self.state, org)
        self._save_meta(initialized=True)
        self.chaincode.wait_ready()
        self.chaincode.migrate()
        self.launcher.launch(self._store_specs(), started)
        self.launcher.step(f"{len(self._store_specs())} record stores serving (HTTPS, signed requests)")

    def _wait_raft_leader(self) -> None:
        urls = [f"https://{o.host}:{o.operations_port}/metrics" for o in self.c.orderers]
        oo = self.c.orderer_org
        wait_raft_leader(urls, self.c.channel, crypto.org_paths(self.state, oo).ca_cert, self.admin_tls_pair(oo))

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
        if not self.meta().get("initialized"):
            raise NetworkError("there is no network to start: run `make network-up` first")

        def steps(started: list[str]) -> None:
            for org in self.c.orgs:  # cheap, and carries generator changes to an existing network
                generate.write_connection_profile(self.c, self.state, org)
            self._write_node_configs()
            self.launcher.launch(self._ca_specs(), started)
            crypto.enroll_all(self.c, self.state)  # only what a newer consortium definition added
            self.launcher.launch(specs.node_specs(self.c, self.state, self.fabric), started)
            self.chaincode.rejoin_peers()
            self.launcher.launch(self._chaincode_specs(), started)
            self.launcher.launch(self._store_specs(), started)
            self.launcher.step("every process healthy")
            self.chaincode.wait_ready()

        self.launcher.run_steps(steps)

    def _write_node_configs(self) -> None:
        for o in self.c.orderers:
            generate.write_orderer_config(self.fabric, self.state, self.c, o)
        for org in self.c.orgs:
            for p in org.peers:
                generate.write_peer_config(self.c, self.fabric, self.state, org, p)

    def revoke(self, org_key: str, enrollment_id: str, reason: str = "unspecified", timeout: float = 60.0) -> int:
        """Revoke an identity's certificates at its org's CA and on the channel: the CA's new CRL goes into
        the org's MSP definition by a config update its admin signs. Returns the config block's number,
        once every peer has committed it (from then on peers refuse the identity)."""
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
        # The record stores read each org's CRL from its MSP folder (--crl) and refuse revoked signers.
        write_atomic(crypto.org_paths(self.state, org).msp / "crls" / "crl.pem", crl)
        try:
            number = self.channel.publish_crl(org, crl, timeout)
        except (CommandError, revocation.RevocationError) as exc:
            raise NetworkError(
                f"{enrollment_id!r} is revoked at the CA, but publishing its CRL on the channel failed: {exc}. "
                "Run the same command again: it republishes the CA's CRL."
            ) from None
        self.echo(f"{enrollment_id} revoked by {org.name}'s CA; CRL in config block {number}, on every peer")
        return number

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
        ca_files = {s.name: s.ca_file for s in [*self._all_specs(), *specs.app_specs(self.c, self.state)]}
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
