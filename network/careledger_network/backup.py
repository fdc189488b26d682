"""Backup and restore of what one organization owns: its record store, its CA (database and keys), its
wallets (still encrypted), its people directory (sealed), its chaincode-server package, and a Fabric ledger
snapshot of its peer.

    careledger-network backup --org hospital1 DIR
    careledger-network restore --org hospital1 DIR [--full-history]

Consistency: the CA's SQLite database is copied with SQLite's online backup (a copy of one moment, while the
CA runs); blobs are content-addressed and never change; wallets and the directory are written atomically;
the peer snapshot is Fabric's own, at one block. What arrives after the backup (blocks, new blobs) comes
back from the channel's other members and the store's replica.

A restore refuses (and changes nothing) when the backup is of another organization or consortium, when any
file differs from the manifest, or when any of the organization's processes is running. What it replaces
is moved aside to `<state>/replaced/<time>/`, never deleted. The peer joins the channel from the snapshot
(Fabric then pulls the later blocks from the orderers, and the private data from the collection's other
members); a peer joined from a snapshot cannot serve blocks or key history from before it, so
`--full-history` instead rejoins from the genesis block and replays every block.
"""

from __future__ import annotations

import datetime
import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from . import crypto, generate, specs
from .backup_manifest import (
    BackupError,
    FileEntry,
    Manifest,
    consortium_fingerprint,
    list_files,
)
from .consortium import Org, Peer
from .errors import NetworkError
from .network import Network
from .release_archives import sha256_of

__all__ = ["BackupError", "OrgBackup", "backup", "restore"]

CA_DATABASE = "fabric-ca-server.db"


@dataclass(frozen=True)
class OrgBackup:
    """Where an organization's parts live in a state folder (each a folder copied whole)."""

    state: Path
    org: Org

    def parts(self) -> dict[str, Path]:
        return {
            "crypto": crypto.org_paths(self.state, self.org).root,
            "wallets": self.state / "wallets" / self.org.key,
            "directory": self.state / "directory" / self.org.msp_id,
            "chaincode": self.state / "chaincode" / self.org.key,
            "stores": self.state / "stores" / self.org.key,
            # ciphertexts registered on the ledger and not yet in the store (careledger's upload outbox)
            "outbox": self.state / "outbox" / self.org.key,
        }

    def peer_data(self, peer: Peer) -> Path:
        return self.state / "data" / peer.name

    def process_names(self, net: Network) -> set[str]:
        own = {f"ca-{self.org.key}", f"cc-{self.org.key}", f"store-{self.org.key}", *(p.name for p in self.org.peers)}
        ports = {p for p in (self.org.app_port, self.org.research_port, self.org.audit_port) if p}
        apps = {s.name for s in specs.app_specs(net.c, net.state) if ports & set(s.ports)}  # served on its ports
        return own | apps


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _copy_part(source: Path, target: Path) -> None:
    """Copy a folder; the CA's SQLite database through SQLite's online backup, so a running CA is copied whole."""
    if not source.exists():
        return
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(CA_DATABASE, "*.db-journal", "*.db-wal"))
    for database in source.rglob(CA_DATABASE):
        copy = target / database.relative_to(source)
        copy.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as live, sqlite3.connect(copy) as out:
            live.backup(out)


def _snapshot(net: Network, org: Org, peer: Peer, into: Path, timeout: float = 300.0) -> int:
    """Ask the peer for a snapshot of its last committed block, wait for it, copy it to `into`; its block number."""
    completed = OrgBackup(net.state, org).peer_data(peer) / "snapshots" / "completed" / net.c.channel
    before = {p.name for p in completed.iterdir()} if completed.exists() else set()
    height = net.cli.channel_height(org, peer)
    tls = ["--peerAddress", peer.address, "--tlsRootCertFile", str(crypto.org_paths(net.state, org).ca_cert)]
    net.cli.peer(
        f"snapshot request to {peer.name}", org, peer, "snapshot", "submitrequest", "-c", net.c.channel, "-b", "0", *tls
    )
    # Fabric writes a snapshot in a temporary folder and renames it into completed/ once whole.
    deadline = time.monotonic() + timeout
    while True:
        made = [int(p.name) for p in completed.iterdir() if p.name not in before] if completed.exists() else []
        if made and max(made) >= height - 1:
            break
        if time.monotonic() > deadline:
            raise NetworkError(f"{peer.name} made no snapshot within {timeout:.0f} s; its log may say why")
        time.sleep(0.5)
    block = max(made)
    shutil.copytree(completed / str(block), into)
    shutil.rmtree(completed / str(block))  # the copy is the backup's; snapshots left on the peer only fill its disk
    return block


def backup(net: Network, org_key: str, out: Path) -> Manifest:
    """Take a backup of `org_key` into the new folder `out`; returns its manifest."""
    org = net.c.org(org_key)
    if out.exists() and any(out.iterdir()):
        raise BackupError(f"{out} is not empty: back up into a new folder (nothing was written)")
    if not net.meta().get("initialized"):
        raise BackupError(f"there is no network in {net.state} to back up: `make network-up` first")
    table = net.table.load()
    if not (org.peers and org.peers[0].name in table and table[org.peers[0].name].alive()):
        raise BackupError(f"{org.name}'s peer is not running: the ledger snapshot needs it (`make network-start`)")
    fingerprint = consortium_fingerprint(net.c, net.cli.genesis_block)
    where = OrgBackup(net.state, org)
    work = out.with_name(f".{out.name}.incomplete")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        block = _snapshot(net, org, org.peers[0], work / "snapshot")
        for name, source in where.parts().items():
            _copy_part(source, work / "parts" / name)
        files = {rel: FileEntry(sha256_of(p), p.stat().st_size) for rel, p in list_files(work).items()}
        manifest = Manifest(fingerprint, org.key, org.msp_id, _now(), block, org.peers[0].name, files)
        (work / "manifest.json").write_text(manifest.to_json())
        if out.exists():
            out.rmdir()
        work.rename(out)  # a backup folder exists only once it is whole
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return manifest


def restore(net: Network, org_key: str, source: Path, full_history: bool = False, timeout: float = 600.0) -> Manifest:
    """Bring `org_key` back from the backup in `source` and rejoin the channel; returns the backup's manifest."""
    org = net.c.org(org_key)
    manifest = Manifest.read(source)
    manifest.check_belongs(net.c, org, consortium_fingerprint(net.c, net.cli.genesis_block))
    where = OrgBackup(net.state, org)
    table, own_processes = net.table.load(), where.process_names(net)
    running = sorted(n for n in own_processes if n in table and table[n].alive())
    if running:
        raise BackupError(
            f"{org.name} is running ({', '.join(running)}): stop its processes before restoring over it "
            "(nothing was changed)"
        )
    manifest.check_files(source)
    # Its web apps come back too where the network serves web apps (the others' still run); not otherwise.
    every_app = specs.app_specs(net.c, net.state)
    apps_in_use = any(a.name in table and table[a.name].alive() for a in every_app)
    own_apps = [a for a in every_app if a.name in own_processes] if apps_in_use else []

    aside = net.state / "replaced" / _now().replace(":", "")
    for name, target in where.parts().items():
        copy = source / "parts" / name
        if name in ("stores", "outbox"):  # named by their hash: keep what is there, add what the backup has
            if copy.exists():
                shutil.copytree(copy, target, dirs_exist_ok=True)
            continue
        if target.exists():
            (aside / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.move(target, aside / name)
        if copy.exists():
            shutil.copytree(copy, target)
    peer = org.peers[0]
    if where.peer_data(peer).exists():
        aside.mkdir(parents=True, exist_ok=True)
        shutil.move(where.peer_data(peer), aside / peer.name)
    net.echo(f"{org.name}'s files restored from {source} (what they replaced is in {aside})")

    def steps(started: list[str]) -> None:
        generate.write_peer_config(net.c, net.fabric, net.state, org, peer)
        net.launcher.launch([specs.ca_spec(net.state, net.fabric, org)], started)
        node = [s for s in specs.node_specs(net.c, net.state, net.fabric) if s.name == peer.name]
        net.launcher.launch(node, started)
        if full_history:
            net.cli.peer_join(org, peer)
        else:
            _join_by_snapshot(net, org, peer, source / "snapshot", timeout)
        net.chaincode.install_current(org, peer)  # the package was in the ledger folder set aside
        net.launcher.launch([s for s in net._chaincode_specs() if s.name == f"cc-{org.key}"], started)
        net.launch_stores(started, names={f"store-{org.key}"})
        _wait_caught_up(net, org, peer, timeout)
        net.launcher.launch(own_apps, started)

    net.launcher.run_steps(steps)
    apps = f"; its web apps serving ({', '.join(a.name for a in own_apps)})" if own_apps else ""
    net.launcher.step(f"{org.name} restored from the backup of {manifest.created} and caught up with the channel{apps}")
    return manifest


def _join_by_snapshot(net: Network, org: Org, peer: Peer, snapshot: Path, timeout: float) -> None:
    net.cli.peer(
        f"{peer.name} joining from a snapshot", org, peer, "channel", "joinbysnapshot", "--snapshotpath", str(snapshot)
    )
    deadline = time.monotonic() + timeout
    while "No joinbysnapshot operation is in progress" not in net.cli.peer(
        "join status", org, peer, "channel", "joinbysnapshotstatus"
    ):
        if time.monotonic() > deadline:
            raise NetworkError(f"{peer.name} did not finish joining from the snapshot within {timeout:.0f} s")
        time.sleep(0.5)


def _wait_caught_up(net: Network, org: Org, peer: Peer, timeout: float) -> None:
    """Until the restored peer is as high as another organization's peer was when we started waiting."""
    other = next(o for o in net.c.orgs if o.key != org.key)
    target = net.cli.channel_height(other, other.peers[0])
    deadline = time.monotonic() + timeout
    while net.cli.channel_height(org, peer) < target:
        if time.monotonic() > deadline:
            raise NetworkError(f"{peer.name} is still below block {target} after {timeout:.0f} s")
        time.sleep(0.5)
