"""Bring the consortium up, stop, start, report and tear it down; redeploy the chaincode.

Every step prints its progress; a failed step stops what this run started and shows the log tail
of the process (or command) that failed. Only `down` deletes state.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from careledger import write_atomic
from careledger.errors import CAError

from . import block_access, config_update, crypto, generate, revocation
from .consortium import Consortium, Orderer, Org
from .fabric_cli import CommandError, FabricCLI
from .health import HealthTimeout, probe, wait_healthy, wait_raft_leader
from .paths import REPO_ROOT, Fabric, locate_fabric
from .processes import ProcessError, ProcessTable, TrackedProcess, port_holder
from .readiness import migrate_state, wait_ready

_INHERITED_PREFIXES = (
    "CORE_",
    "ORDERER_",
    "FABRIC_CA_",
    "FABRIC_CFG_PATH",
    "FABRIC_LOGGING_SPEC",
    "CHAINCODE_",
)


class NetworkError(RuntimeError):
    pass


@dataclass(frozen=True)
class ProcessSpec:
    name: str
    command: list[str]
    env: dict[str, str]
    ports: list[int]
    health_url: str
    ca_file: Path | None


T = TypeVar("T")


def _base_env() -> dict[str, str]:
    """Our environment minus Fabric variables a user may have set, which would override our configs."""
    return {k: v for k, v in os.environ.items() if not k.startswith(_INHERITED_PREFIXES)}


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
        self._t0 = time.monotonic()

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

    def _step(self, text: str) -> None:
        self.echo(f"[{time.monotonic() - self._t0:5.1f}s] {text}")

    # -- process specifications ------------------------------------------------------------------------
    def _ca_spec(self, org: Org) -> ProcessSpec:
        paths = crypto.org_paths(self.state, org)
        command, env = crypto.ca_command(self.fabric, org.ca, paths)
        return ProcessSpec(
            name=f"ca-{org.key}",
            command=command,
            env={**_base_env(), **env},
            ports=[org.ca.port, org.ca.operations_port],
            health_url=f"https://{org.ca.host}:{org.ca.operations_port}/healthz",
            ca_file=paths.ca_cert,
        )

    def _node_specs(self) -> list[ProcessSpec]:
        log_spec = self.c.tuning.get("log_spec", "info")
        specs = []
        oo = self.c.orderer_org
        for o in self.c.orderers:
            specs.append(
                ProcessSpec(
                    name=o.name,
                    command=[self.fabric.bin("orderer")],
                    env={
                        **_base_env(),
                        "FABRIC_CFG_PATH": str(generate.node_config_dir(self.state, o.name)),
                        "FABRIC_LOGGING_SPEC": log_spec,
                    },
                    ports=[o.port, o.admin_port, o.operations_port],
                    health_url=f"https://{o.host}:{o.operations_port}/healthz",
                    ca_file=crypto.org_paths(self.state, oo).ca_cert,
                )
            )
        for org in self.c.orgs:
            for p in org.peers:
                specs.append(
                    ProcessSpec(
                        name=p.name,
                        command=[self.fabric.bin("peer"), "node", "start"],
                        env={
                            **_base_env(),
                            "FABRIC_CFG_PATH": str(generate.node_config_dir(self.state, p.name)),
                            "FABRIC_LOGGING_SPEC": log_spec,
                        },
                        ports=[p.port, p.chaincode_port, p.operations_port],
                        health_url=f"https://{p.host}:{p.operations_port}/healthz",
                        ca_file=crypto.org_paths(self.state, org).ca_cert,
                    )
                )
        return specs

    def _chaincode_spec(self, org: Org, package_id: str) -> ProcessSpec:
        cc = crypto.org_paths(self.state, org).chaincode
        name = f"cc-{org.key}"
        pid_file = self.state / "run" / f"{name}.child"
        pid_file.parent.mkdir(parents=True, exist_ok=True)
        return ProcessSpec(
            name=name,
            command=[
                sys.executable,
                "-m",
                "careledger_network.supervise",
                str(pid_file),
                "--",
                sys.executable,
                "-m",
                self.c.chaincode_server_module,
            ],
            env={
                **_base_env(),
                "CHAINCODE_ID": package_id,
                "CHAINCODE_SERVER_ADDRESS": f"{self.c.host}:{org.chaincode_port}",
                "CHAINCODE_TLS_CERT": str(cc / "server.crt"),
                "CHAINCODE_TLS_KEY": str(cc / "server.key"),
                "CHAINCODE_TLS_CLIENT_CA": str(cc / "ca.crt"),
                "PYTHONUNBUFFERED": "1",
                "CARELEDGER_AUTHORITY_MSP": self.c.authority_msp,
            },
            ports=[org.chaincode_port],
            health_url="",
            ca_file=None,
        )

    def _store_spec(self, org: Org) -> ProcessSpec:
        paths = crypto.org_paths(self.state, org)
        trust = [
            f"--trust={o.msp_id}={crypto.org_paths(self.state, o).ca_cert}" for o in (self.c.orderer_org, *self.c.orgs)
        ]
        return ProcessSpec(
            name=f"store-{org.key}",
            command=[
                sys.executable,
                "-m",
                "careledger.store",
                f"--org-msp={org.msp_id}",
                f"--profile={self.state / 'profiles' / f'{org.key}.json'}",
                f"--identity={org.admin}",
                f"--data={self.state / 'stores' / org.key}",
                f"--listen={self.c.host}:{org.store_port}",
                f"--tls-cert={paths.store / 'server.crt'}",
                f"--tls-key={paths.store / 'server.key'}",
                f"--channel={self.c.channel}",
                f"--chaincode={self.c.chaincode_name}",
                *trust,
                # Each org's CA CRL, where the Fabric MSP layout keeps it (msp/crls/): the store re-reads it
                # every 30 s and takes a file that does not exist yet for "nothing revoked".
                *(
                    f"--crl={o.msp_id}={crypto.org_paths(self.state, o).msp / 'crls' / 'crl.pem'}"
                    for o in (self.c.orderer_org, *self.c.orgs)
                ),
            ],
            env={**_base_env(), "PYTHONUNBUFFERED": "1"},
            ports=[org.store_port],
            health_url=f"https://{self.c.host}:{org.store_port}/healthz",
            ca_file=paths.ca_cert,
        )

    def _store_specs(self) -> list[ProcessSpec]:
        if not self.meta().get("initialized"):
            return []
        return [self._store_spec(org) for org in self.c.orgs if org.store_port]

    def _chaincode_specs(self) -> list[ProcessSpec]:
        deployed = self.meta().get("chaincode", {}).get("package_ids", {})
        return [self._chaincode_spec(org, deployed[org.key]) for org in self.c.orgs if org.key in deployed]

    def _all_specs(self) -> list[ProcessSpec]:
        cas = [self._ca_spec(org) for org in (self.c.orderer_org, *self.c.orgs)]
        return cas + self._node_specs() + self._chaincode_specs() + self._store_specs()

    # -- starting and stopping -----------------------------------------------------------------------------
    def _check_ports(self, wanted: dict[int, str]) -> None:
        """Fail, naming each port and what holds it, when any of `wanted` (port -> its user) is taken."""
        busy = [
            f"port {p} (for {what}) is taken by {holder}" for p, what in wanted.items() if (holder := port_holder(p))
        ]
        if busy:
            raise NetworkError(
                "cannot start: "
                + "; ".join(busy)
                + ". Stop that process, or change port_base in network/consortium.yaml."
            )

    def _launch(self, specs: list[ProcessSpec], started: list[str]) -> list[TrackedProcess]:
        running = self.table.load()
        todo = [s for s in specs if not (s.name in running and running[s.name].alive())]
        self._check_ports({p: s.name for s in todo for p in s.ports})
        launched = []
        for spec in todo:
            launched.append(
                self.table.start(spec.name, spec.command, spec.env, ports=spec.ports, health_url=spec.health_url)
            )
            started.append(spec.name)
        ca_files = {s.name: s.ca_file for s in specs}
        wait_healthy(launched, lambda p: ca_files.get(p.name))
        return launched

    def _run_steps(self, steps: Callable[[list[str]], None]) -> None:
        """Run `steps`; on failure stop every process it started and show why."""
        started: list[str] = []
        try:
            steps(started)
        except HealthTimeout as exc:
            self._abort(started)
            raise NetworkError(
                f"{exc}\n--- last lines of {exc.process.log} ---\n{self.table.tail(exc.process.name)}"
            ) from None
        except (CommandError, ProcessError, CAError, OSError, RuntimeError) as exc:
            self._abort(started)
            if isinstance(exc, NetworkError):
                raise
            raise NetworkError(str(exc)) from None

    def _abort(self, started: list[str]) -> None:
        if started:
            self.echo(f"stopping what this run started: {', '.join(started)}")
            self.table.stop_all(started)

    # -- commands --------------------------------------------------------------------------------------------
    def up(self) -> None:
        self._t0 = time.monotonic()
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
        self._run_steps(self._create)
        self._step(f"network ready: channel {self.c.channel}, chaincode {self.c.chaincode_name} (sequence 1)")

    def _create(self, started: list[str]) -> None:
        orgs_all = (self.c.orderer_org, *self.c.orgs)
        self._check_ports(self.c.all_ports())
        for org in orgs_all:
            crypto.init_ca(self.fabric, org.ca, crypto.org_paths(self.state, org))
        self._launch([self._ca_spec(org) for org in orgs_all], started)
        self._step(f"{len(orgs_all)} Fabric CAs healthy")
        crypto.enroll_all(self.c, self.state)
        self._step("identities enrolled: nodes, TLS, admins, demo users")
        configtx = generate.write_configtx(self.c, self.state)
        self.cli.create_genesis_block(configtx)
        self._write_node_configs()
        generate.write_cli_config(self.fabric, self.state)
        self._step("channel genesis block and node configs generated")
        self._launch(self._node_specs(), started)
        self._step(f"{len(self.c.orderers)} orderers and {len(self.c.peers)} peers healthy")
        self._join_channel()
        self._step(f"channel {self.c.channel} joined by every orderer and peer")
        self._wait_raft_leader()
        self._step("Raft leader elected")
        self.restrict_block_access()
        self._step("raw blocks readable only by peers, admins, auditors and event readers (channel ACLs)")
        self._deploy_chaincode(1, started)
        for org in self.c.orgs:
            generate.write_connection_profile(self.c, self.state, org)
        self._save_meta(initialized=True)
        self._wait_ready()
        self._migrate_state()
        self._launch(self._store_specs(), started)
        self._step(f"{len(self._store_specs())} record stores serving (HTTPS, signed requests)")

    def _join_channel(self) -> None:
        cli = self.cli
        with ThreadPoolExecutor(max_workers=6) as pool:
            jobs = [pool.submit(cli.orderer_join, o) for o in self.c.orderers]
            jobs += [pool.submit(cli.peer_join, org, p) for org in self.c.orgs for p in org.peers]
            for job in jobs:
                job.result()

    def _wait_raft_leader(self) -> None:
        urls = [f"https://{o.host}:{o.operations_port}/metrics" for o in self.c.orderers]
        oo = self.c.orderer_org
        wait_raft_leader(urls, self.c.channel, crypto.org_paths(self.state, oo).ca_cert, self.admin_tls_pair(oo))

    def admin_tls_pair(self, org: Org) -> tuple[Path, Path]:
        """The org admin's TLS client certificate and key (for /metrics and the orderer admin API)."""
        tls = crypto.wallet(self.state, org).path(org.admin) / "tls"
        return tls / "client.crt", tls / "client.key"

    def _deploy_chaincode(self, sequence: int, started: list[str]) -> None:
        cli = self.cli
        version = f"{sequence}.0"
        package_ids: dict[str, str] = {}

        def per_org(org: Org) -> None:
            package, package_id = generate.chaincode_package(self.c, self.state, org, sequence)
            for p in org.peers:
                cli.install(org, p, package, package_id)
            package_ids[org.key] = package_id

        with ThreadPoolExecutor(max_workers=len(self.c.orgs)) as pool:
            for job in [pool.submit(per_org, org) for org in self.c.orgs]:
                job.result()
        self._step(f"chaincode packages installed on {len(self.c.peers)} peers")
        specs = [self._chaincode_spec(org, package_ids[org.key]) for org in self.c.orgs]
        for spec in specs:  # an upgrade replaces the servers of the previous package ids
            self.table.stop(spec.name)
        self._launch(specs, started)
        self._save_meta(chaincode={"sequence": sequence, "version": version, "package_ids": package_ids})
        generate.write_collections_config(self.c, self.state)
        self._step(f"{len(specs)} chaincode servers listening (mutual TLS)")
        with ThreadPoolExecutor(max_workers=len(self.c.orgs)) as pool:
            for job in [pool.submit(cli.approve, org, package_ids[org.key], sequence, version) for org in self.c.orgs]:
                job.result()
        self._step(f"definition approved by {len(self.c.orgs)} orgs")
        cli.commit(sequence, version)
        self._step(f"definition committed (sequence {sequence}, {self.c.endorsement_policy} endorsement)")

    def _wait_ready(self) -> None:
        org = self.c.orgs[0]
        endorsers = wait_ready(self.c, self.state, org)
        self._step(f"ready: a submit through {org.name}'s gateway was endorsed by {', '.join(endorsers)} and committed")

    def _migrate_state(self, rescan: bool = False) -> None:
        moved, calls = migrate_state(self.c, self.state, self.c.orgs[0], rescan=rescan)
        self._step(f"ledger state in the current layout ({moved} keys moved in {calls} transactions)")

    def is_running(self) -> bool:
        table = self.table.load()
        names = {s.name for s in self._all_specs()}
        return bool(names) and all(n in table and table[n].alive() for n in names)

    def start(self) -> None:
        self._t0 = time.monotonic()
        if not self.meta().get("initialized"):
            raise NetworkError("there is no network to start: run `make network-up` first")

        def steps(started: list[str]) -> None:
            for org in self.c.orgs:  # cheap, and carries generator changes to an existing network
                generate.write_connection_profile(self.c, self.state, org)
            self._write_node_configs()
            self._launch([self._ca_spec(org) for org in (self.c.orderer_org, *self.c.orgs)], started)
            crypto.enroll_all(self.c, self.state)  # only what a newer consortium definition added
            self._launch(self._node_specs(), started)
            self._rejoin_peers()
            self._launch(self._chaincode_specs(), started)
            self._launch(self._store_specs(), started)
            self._step("every process healthy")
            self._wait_ready()

        self._run_steps(steps)

    def _write_node_configs(self) -> None:
        for o in self.c.orderers:
            generate.write_orderer_config(self.fabric, self.state, self.c, o)
        for org in self.c.orgs:
            for p in org.peers:
                generate.write_peer_config(self.c, self.fabric, self.state, org, p)

    def _rejoin_peers(self) -> None:
        """A peer whose ledger was lost starts with no channel: join it again (it then pulls every block
        from the orderers) and make sure it has the current chaincode package."""
        cli = self.cli
        package_ids: dict[str, str] = self.meta().get("chaincode", {}).get("package_ids", {})
        sequence = int(self.meta().get("chaincode", {}).get("sequence", 1))

        def rejoin(org: Org, peer: Any) -> str | None:
            if self.c.channel in cli.peer_channels(org, peer):
                return None
            cli.peer_join(org, peer)
            package, package_id = generate.chaincode_package(self.c, self.state, org, sequence)
            if package_id != package_ids.get(org.key):
                raise NetworkError(
                    f"{peer.name} rejoined {self.c.channel} but the chaincode package it should run "
                    f"({package_ids.get(org.key)}) is not the one this checkout builds ({package_id}): "
                    "run `make chaincode-upgrade`"
                )
            cli.install(org, peer, package, package_id)
            return str(peer.name)

        with ThreadPoolExecutor(max_workers=len(self.c.peers)) as pool:
            jobs = [pool.submit(rejoin, org, p) for org in self.c.orgs for p in org.peers]
            rejoined = [name for job in jobs if (name := job.result())]
        if rejoined:
            self._step(f"{', '.join(rejoined)} had no ledger: rejoined {self.c.channel}, catching up from the orderers")

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
            number = self._publish_crl(org, crl, timeout)
        except (CommandError, revocation.RevocationError) as exc:
            raise NetworkError(
                f"{enrollment_id!r} is revoked at the CA, but publishing its CRL on the channel failed: {exc}. "
                "Run the same command again: it republishes the CA's CRL."
            ) from None
        self.echo(f"{enrollment_id} revoked by {org.name}'s CA; CRL in config block {number}, on every peer")
        return number

    def _on_any_orderer(self, action: Callable[[Orderer], T], deadline: float) -> T:
        """Run a peer CLI command against the orderers in turn until one serves it: right after a restart
        or a leader change an orderer answers SERVICE_UNAVAILABLE for a few seconds."""
        while True:
            for orderer in self.c.orderers:
                try:
                    return action(orderer)
                except CommandError as exc:
                    if not any(s in exc.output for s in ("SERVICE_UNAVAILABLE", "connection refused", "Unavailable")):
                        raise
                    last = exc
            if time.monotonic() > deadline:
                raise last
            time.sleep(0.5)

    def channel_config(self, org: Org, timeout: float = 30.0) -> tuple[int, Any]:
        """The number and content (a common.Config) of the channel's newest config block, fetched as the
        org's admin from whichever orderer serves it."""
        work = self.state / "configtx" / "updates"
        work.mkdir(parents=True, exist_ok=True)
        into = work / f"{org.key}-config.block"
        deadline = time.monotonic() + timeout
        return revocation.config_from_block(
            self._on_any_orderer(lambda o: self.cli.fetch_config_block(org, into, o), deadline)
        )

    def _publish_crl(self, org: Org, crl: bytes, timeout: float) -> int:
        """Put the CRL into the org's MSP definition and wait until every peer has committed that config."""
        work = self.state / "configtx" / "updates"
        deadline = time.monotonic() + timeout

        def fetch() -> tuple[int, Any]:
            return self.channel_config(org, max(1.0, deadline - time.monotonic()))

        before, config = fetch()
        envelope = work / f"{org.key}-revocation.pb"
        write_atomic(envelope, revocation.msp_revocation_update(config, self.c.channel, org.msp_id, crl))
        return self._apply_config_update(org, envelope, before, deadline)

    def restrict_block_access(self, timeout: float = 60.0) -> int:
        """Put the BlockReaders policy and the ACLs that use it on the channel (block_access.py), signed by
        every application organization's admin and the orderer organization's; a no-op once there."""
        org = self.c.orgs[0]
        deadline = time.monotonic() + timeout
        before, config = self.channel_config(org, timeout)
        if block_access.is_restricted(config):
            return before
        apps = [
            block_access.Organization(o.msp_id, crypto.org_paths(self.state, o).ca_cert.read_bytes())
            for o in self.c.orgs
        ]
        updated = block_access.restrict(config, apps, self.c.orderer_org.msp_id)
        work = self.state / "configtx" / "updates"
        update = self.cli.compute_update(config.SerializeToString(), updated.SerializeToString(), work / "block-access")
        signers = [crypto.wallet(self.state, o).get(o.admin) for o in (*self.c.orgs[1:], self.c.orderer_org)]
        envelope = work / "block-access.pb"
        write_atomic(envelope, config_update.signed_update_envelope(update, self.c.channel, signers))
        return self._apply_config_update(org, envelope, before, deadline)

    def _apply_config_update(self, org: Org, envelope: Path, before: int, deadline: float) -> int:
        """Send a config update as the org's admin; return its block's number once every peer committed it."""
        self._on_any_orderer(lambda o: self.cli.channel_update(org, envelope, o), deadline)
        number = before
        while number == before:
            if time.monotonic() > deadline:
                raise NetworkError("the config update was sent but not ordered in time")
            time.sleep(0.2)
            number, _ = self.channel_config(org, max(1.0, deadline - time.monotonic()))
        for peer_org in self.c.orgs:
            for peer in peer_org.peers:
                while self.cli.channel_height(peer_org, peer) <= number:
                    if time.monotonic() > deadline:
                        raise NetworkError(f"{peer.name} has not committed config block {number} in time")
                    time.sleep(0.2)
        return number

    def _app_specs(self) -> list[ProcessSpec]:
        specs = []
        for org in self.c.orgs:
            if not org.app_port:
                continue
            models = ["--models", str(REPO_ROOT / "models" / "artifacts")]
            kind = ["hospital", "--org", org.key, *models] if org.store_port else ["portal"]
            name = f"app-{org.key}" if org.store_port else "portal"
            specs.append(
                ProcessSpec(
                    name=name,
                    command=[sys.executable, "-m", "careledger_apps", *kind],
                    env={**_base_env(), "CARELEDGER_STATE": str(self.state), "PYTHONUNBUFFERED": "1"},
                    ports=[org.app_port],
                    health_url=f"https://{self.c.host}:{org.app_port}/login",
                    ca_file=crypto.org_paths(self.state, org).ca_cert,
                )
            )
        return specs

    def start_apps(self) -> list[str]:
        """Start the hospital apps and the consent portal (stopped with the rest by network-stop)."""
        if not self.is_running():
            raise NetworkError("the network is not running: `make network-up` first")
        specs = self._app_specs()

        def launch(started: list[str]) -> None:
            self._launch(specs, started)

        self._run_steps(launch)
        return [s.health_url.removesuffix("login") for s in specs]

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
        self._t0 = time.monotonic()
        if not self.is_running():
            raise NetworkError("the network is not running: `make network-up` first")
        committed = self.cli.committed(self.c.orgs[0])
        sequence = int(committed["sequence"]) + 1 if committed else 1
        self.restrict_block_access()  # channels created before the block-reading ACLs get them now
        self._run_steps(lambda started: self._deploy_chaincode(sequence, started))
        self._wait_ready()
        self._migrate_state(rescan)
        return sequence

    def status(self) -> list[dict[str, Any]]:
        table = self.table.load()
        ca_files = {s.name: s.ca_file for s in [*self._all_specs(), *self._app_specs()]}
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
