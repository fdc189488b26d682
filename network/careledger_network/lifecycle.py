"""The chaincode's lifecycle on the channel: packages installed on every peer, a server per organization,
the definition approved by each organization and committed, readiness, and the state migrated to the
current layout. Also bringing back a peer whose ledger was lost."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from . import generate, specs
from .consortium import Consortium, Org
from .errors import NetworkError
from .fabric_cli import FabricCLI
from .launcher import Launcher
from .readiness import migrate_state, record_settings, wait_ready

Meta = Callable[[], dict[str, Any]]
SaveMeta = Callable[..., None]


class ChaincodeLifecycle:
    def __init__(
        self,
        consortium: Consortium,
        state: Path,
        cli: Callable[[], FabricCLI],
        launcher: Launcher,
        meta: Meta,
        save_meta: SaveMeta,
        local: tuple[Org, ...] | None = None,
    ) -> None:
        self.c, self.state = consortium, state
        self._cli, self.launcher, self.meta, self.save_meta = cli, launcher, meta, save_meta
        # The application organizations whose peers, servers and admins this state folder holds.
        self.orgs = tuple(o for o in consortium.orgs if local is None or o in local)

    def deployed(self) -> dict[str, Any]:
        return dict(self.meta().get("chaincode", {}))

    def next_sequence(self) -> int:
        committed = self._cli().committed(self._first_org())
        return int(committed["sequence"]) + 1 if committed else 1

    def _first_org(self) -> Org:
        if not self.orgs:
            raise NetworkError("the orderer organization has no peers: the application organizations run this step")
        return self.orgs[0]

    def deploy(self, sequence: int, started: list[str]) -> None:
        """Install, serve, approve (by every local organization) and commit the chaincode definition."""
        self.approve(sequence, started)
        self.commit(sequence)

    def approve(self, sequence: int, started: list[str]) -> None:
        """Each local organization installs its CCAAS package on its peers, starts its chaincode server and
        approves the definition as its admin."""
        cli, step = self._cli(), self.launcher.step
        orgs = self.orgs or (self._first_org(),)
        version = f"{sequence}.0"
        package_ids: dict[str, str] = {}

        def per_org(org: Org) -> None:
            package, package_id = generate.chaincode_package(self.c, self.state, org, sequence)
            for p in org.peers:
                cli.install(org, p, package, package_id)
            package_ids[org.key] = package_id

        with ThreadPoolExecutor(max_workers=len(orgs)) as pool:
            for job in [pool.submit(per_org, org) for org in orgs]:
                job.result()
        step(f"chaincode packages installed on {sum(len(o.peers) for o in orgs)} peers")
        servers = [specs.chaincode_spec(self.c, self.state, org, package_ids[org.key]) for org in orgs]
        for spec in servers:  # an upgrade replaces the servers of the previous package ids
            self.launcher.table.stop(spec.name)
        self.launcher.launch(servers, started)
        self.save_meta(chaincode={"sequence": sequence, "version": version, "package_ids": package_ids})
        generate.write_collections_config(self.c, self.state)
        step(f"{len(servers)} chaincode servers listening (mutual TLS)")
        self._approve_all(orgs, package_ids, sequence)
        step(f"definition approved by {', '.join(o.name for o in orgs)}")

    def commit(self, sequence: int) -> None:
        """Commit the definition as the first local organization's admin, endorsed by every organization."""
        cli = self._cli()
        cli.commit(cli.definition(sequence, f"{sequence}.0"), self._first_org())
        self.launcher.step(f"definition committed (sequence {sequence}, {self.c.endorsement_policy} endorsement)")

    def _approve_all(self, orgs: tuple[Org, ...], package_ids: dict[str, str], sequence: int) -> None:
        cli = self._cli()
        definition = cli.definition(sequence, f"{sequence}.0")
        with ThreadPoolExecutor(max_workers=len(orgs)) as pool:
            for job in [pool.submit(cli.approve, o, package_ids[o.key], definition) for o in orgs]:
                job.result()

    def _running_packages(self, orgs: tuple[Org, ...]) -> dict[str, str]:
        package_ids: dict[str, str] = dict(self.deployed().get("package_ids", {}))
        if missing := [o.name for o in orgs if o.key not in package_ids]:
            raise NetworkError(
                f"no chaincode package is deployed for {', '.join(missing)}: approve with a new package instead"
            )
        return package_ids

    def approve_running(self, sequence: int) -> None:
        """Each local organization approves `sequence` with the package its peers already run: a definition that
        changes no code (a new member in the collection), so no chaincode server restarts."""
        package_ids = self._running_packages(self.orgs)
        generate.write_collections_config(self.c, self.state)  # every organization of the definition in use
        self._approve_all(self.orgs, package_ids, sequence)
        self.save_meta(chaincode={**self.deployed(), "sequence": sequence, "version": f"{sequence}.0"})
        self.launcher.step(f"definition {sequence} approved by {', '.join(o.name for o in self.orgs)} (same package)")

    def admit(self, new: Org, members: list[Org], started: list[str]) -> int:
        """A new definition (the committed one's sequence + 1, the same code) whose private data collection
        includes `new`, under which the channel's MAJORITY endorsement policy counts `new` too. `new` installs
        its package, starts its chaincode server and approves; each member approves with the package its peers
        already run, so no server of theirs restarts; the first member commits it. Returns the sequence."""
        cli, step = self._cli(), self.launcher.step
        committed = cli.committed(members[0])
        if committed is None:
            raise NetworkError("the channel has no chaincode definition yet: a new organization joins a running one")
        sequence = int(committed["sequence"]) + 1
        package_ids = self._running_packages(tuple(members))
        package, package_ids[new.key] = generate.chaincode_package(self.c, self.state, new, sequence)
        for p in new.peers:
            cli.install(new, p, package, package_ids[new.key])
        server = specs.chaincode_spec(self.c, self.state, new, package_ids[new.key])
        self.launcher.table.stop(server.name)
        self.launcher.launch([server], started)
        generate.write_collections_config(self.c, self.state)  # every organization of self.c, `new` included
        self._approve_all((*members, new), package_ids, sequence)
        step(f"definition {sequence} (collection with {new.name}) approved by {len(members) + 1} organizations")
        cli.commit(cli.definition(sequence, f"{sequence}.0"), members[0])
        self.save_meta(chaincode={"sequence": sequence, "version": f"{sequence}.0", "package_ids": package_ids})
        step(
            f"definition {sequence} committed: {self.c.endorsement_policy} of {len(members) + 1} organizations endorses"
        )
        return sequence

    def wait_ready(self) -> None:
        """Ready when every local organization's gateway gets a submit endorsed and committed: each gateway finds
        the other organizations' peers through gossip in its own time, and a member may connect to any of them."""
        for org in self.orgs:
            endorsers = wait_ready(self.c, self.state, org)
            self.launcher.step(
                f"ready: a submit through {org.name}'s gateway was endorsed by {', '.join(endorsers)} and committed"
            )

    def migrate(self, rescan: bool = False) -> None:
        record_settings(self.c, self.state, self._first_org())
        moved, calls = migrate_state(self.c, self.state, self._first_org(), rescan=rescan)
        self.launcher.step(f"ledger state in the current layout ({moved} keys moved in {calls} transactions)")

    def install_current(self, org: Org, peer: Any) -> None:
        """Install the deployed chaincode package on a peer that lost it (a rejoined or restored ledger)."""
        package_ids: dict[str, str] = self.deployed().get("package_ids", {})
        # The sequence the org's package was built for: an organization that joined later has a newer one, and
        # the others kept theirs when it joined (ChaincodeLifecycle.admit).
        built_for = package_ids.get(org.key, "").partition(":")[0].rpartition("_")[2]
        sequence = int(built_for) if built_for.isdigit() else int(self.deployed().get("sequence", 1))
        package, package_id = generate.chaincode_package(self.c, self.state, org, sequence)
        if package_id != package_ids.get(org.key):
            raise NetworkError(
                f"{peer.name} is on {self.c.channel} but the chaincode package it should run "
                f"({package_ids.get(org.key)}) is not the one this checkout builds ({package_id}): "
                "run `make chaincode-upgrade`"
            )
        self._cli().install(org, peer, package, package_id)

    def rejoin_peers(self) -> None:
        """A peer whose ledger was lost starts with no channel: join it again (it then pulls every block
        from the orderers) and make sure it has the current chaincode package."""
        cli = self._cli()

        def rejoin(org: Org, peer: Any) -> str | None:
            if self.c.channel in cli.peer_channels(org, peer):
                return None
            cli.peer_join(org, peer)
            self.install_current(org, peer)
            return str(peer.name)

        peers = [(org, p) for org in self.orgs for p in org.peers]
        if not peers:
            return
        with ThreadPoolExecutor(max_workers=len(peers)) as pool:
            jobs = [pool.submit(rejoin, org, p) for org, p in peers]
            rejoined = [name for job in jobs if (name := job.result())]
        if rejoined:
            self.launcher.step(
                f"{', '.join(rejoined)} had no ledger: rejoined {self.c.channel}, catching up from the orderers"
            )
