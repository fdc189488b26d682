"""`careledger-network generate | bundle | node | channel | chaincode`: a consortium whose organizations run
on their own hosts (docs/deploy.md). Each command after `bundle` runs on one organization's host, from its
bundle."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from .backup_manifest import BackupError
from .bundle import write_bundle, write_public_part
from .consortium import DEFAULT_PATH, ConsortiumError, load
from .errors import NetworkError
from .network import Network
from .node import Node
from .org_join import generate_org
from .paths import SetupError, state_dir

T = TypeVar("T")


def guarded(action: Callable[[], T]) -> T:
    """Run one command's action: bad input (a malformed consortium, a missing setup, a refused backup) exits 2,
    a network failure exits 1, each with the reason. Every `careledger-network` command maps errors here."""
    try:
        return action()
    except (ConsortiumError, SetupError, BackupError) as exc:  # BackupError first: it is a NetworkError too
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except (NetworkError, TimeoutError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


def _echo(line: str) -> None:
    click.echo(line)


def _on_node(bundle: Path, action: Callable[[Node], T]) -> T:
    return guarded(lambda: action(Node(bundle, echo=_echo)))


def print_status(rows: list[dict[str, Any]], as_json: bool) -> None:
    """Every process's row of Network.status, then exit 1 when any is unhealthy (or none is tracked)."""
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    elif not rows:
        click.echo("no network processes are tracked (is the network up? `make network-up`)")
    else:
        click.echo(f"{'PROCESS':<22} {'PID':>8} {'CHILD':>8}  {'PORTS':<20} HEALTH")
        for r in rows:
            ports = ",".join(str(p) for p in r["ports"])
            child = str(r["child_pid"] or "")
            click.echo(f"{r['name']:<22} {r['pid']:>8} {child:>8}  {ports:<20} {r['health']}")
    sys.exit(0 if rows and all(r["healthy"] for r in rows) else 1)


consortium_option = click.option(
    "--consortium",
    "consortium_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="consortium definition (default: network/consortium.yaml)",
)
bundle_option = click.option(
    "--bundle",
    "bundle",
    required=True,
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="this organization's bundle (`careledger-network bundle`); it is also its state folder",
)


def update_options(command: Callable[..., None]) -> Callable[..., None]:
    """--update FILE and --submit: a config update passed from admin to admin, each signing on its own host."""
    update = click.option(
        "--update",
        "update_file",
        required=True,
        type=click.Path(path_type=Path, dir_okay=False),
        help="the signed config update, passed from admin to admin (made by the first, when missing)",
    )
    submit = click.option("--submit", is_flag=True, help="after signing, send it (a member, once enough have signed)")
    return update(submit(command))


@click.command("generate")
@consortium_option
@click.option("--org", "org_key", default=None, help="only this organization, joining a running consortium later")
def generate_command(consortium_path: Path | None, org_key: str | None) -> None:
    """Generate every org's CA, identities and the channel genesis block into the state folder, without
    starting the network (each CA runs on loopback just long enough to enroll). With --org: only that org's,
    added to the consortium definition after the others (docs/deploy.md, "A hospital joins")."""
    network = Network(load(consortium_path), state_dir(), echo=_echo)
    guarded(lambda: network.generate() if org_key is None else generate_org(network, org_key))


@click.command("bundle")
@consortium_option
@click.option("--org", "org_key", required=True, help="the organization whose hosts the bundle is for")
@click.option("--out", required=True, type=click.Path(path_type=Path, file_okay=False), help="a new folder")
@click.option("--public", is_flag=True, help="only ORG's public certificates and the definition: for the members")
def bundle_command(consortium_path: Path | None, org_key: str, out: Path, public: bool) -> None:
    """Cut ORG's bundle from the generated state folder: its own keys, the others' public certificates. With
    --public: what the members add to their bundles (`node add-org`) when ORG joins a running consortium."""
    definition = consortium_path or DEFAULT_PATH
    cut = write_public_part if public else write_bundle
    manifest = guarded(lambda: cut(load(definition), definition, state_dir(), org_key, out))
    kind = "public part" if public else "bundle"
    click.echo(f"{kind} of {manifest.org} ({manifest.msp_id}) in {out}: {len(manifest.files)} files")


@click.group("node")
def node_group() -> None:
    """One organization's processes on its host, from its bundle."""


@node_group.command("up")
@bundle_option
def node_up(bundle: Path) -> None:
    """Check the bundle, write this host's configs, start the org's CA, orderers or peers (and, once the
    chaincode is ready, its chaincode server, record store and web apps)."""
    _on_node(bundle, Node.up)


@node_group.command("start")
@bundle_option
def node_start(bundle: Path) -> None:
    """Start the org's stopped processes (ledgers and identities kept)."""
    _on_node(bundle, lambda node: node.network.start())


@node_group.command("stop")
@bundle_option
def node_stop(bundle: Path) -> None:
    """Stop the org's processes; keep ledgers and identities."""
    _on_node(bundle, Node.stop)


@node_group.command("status")
@bundle_option
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def node_status(bundle: Path, as_json: bool) -> None:
    """The org's processes: PID, ports and health. Exit 1 if any is unhealthy."""
    print_status(_on_node(bundle, lambda node: node.network.status()), as_json)


@node_group.command("add-org")
@bundle_option
@click.option(
    "--definition",
    "public",
    required=True,
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="the joining organization's public part (`bundle --org ORG --public`)",
)
def node_add_org(bundle: Path, public: Path) -> None:
    """Add a joining organization's certificates and the consortium definition naming it to this bundle: this
    org's clients learn its record store, this org's record store trusts its CA (no restart)."""
    _on_node(bundle, lambda node: node.add_org(public))


@click.group("channel")
def channel_group() -> None:
    """Each organization's steps on the channel, from its bundle."""


@channel_group.command("join")
@bundle_option
def channel_join(bundle: Path) -> None:
    """Orderer org: join its orderers with the genesis block. Application org: join its peers (block 0 from
    the orderers)."""
    _on_node(bundle, Node.join)


@channel_group.command("restrict-blocks")
@bundle_option
@update_options
def channel_restrict_blocks(bundle: Path, update_file: Path, submit: bool) -> None:
    """Sign the config update that lets only peers, admins, auditors and event readers read raw blocks; it
    needs a majority of the application orgs' admins and the orderer org's admin."""
    _on_node(bundle, lambda node: node.sign_block_access(update_file, submit))


@channel_group.command("add-org")
@bundle_option
@click.option("--org", "org_key", required=True, help="the joining organization (after `node add-org`)")
@update_options
def channel_add_org(bundle: Path, org_key: str, update_file: Path, submit: bool) -> None:
    """Sign the config update adding ORG to the channel (and to who may read blocks); it needs a majority of
    the member organizations' admins and the orderer organization's admin."""
    _on_node(bundle, lambda node: node.sign_add_org(org_key, update_file, submit))


@click.group("chaincode")
def chaincode_group() -> None:
    """Each organization's steps of the chaincode lifecycle, from its bundle."""


@chaincode_group.command("approve")
@bundle_option
@click.option("--sequence", type=int, default=None, help="default: the committed sequence + 1")
@click.option(
    "--same-package",
    is_flag=True,
    help="approve with the package the org's peers run (no new code: e.g. a new member in the collection)",
)
def chaincode_approve(bundle: Path, sequence: int | None, same_package: bool) -> None:
    """Install the org's chaincode package on its peers, start its chaincode server, approve as its admin."""
    approved = _on_node(bundle, lambda node: node.approve(sequence, same_package))
    click.echo(f"approved sequence {approved}")


@chaincode_group.command("commit")
@bundle_option
def chaincode_commit(bundle: Path) -> None:
    """Commit the approved definition (endorsed by every org's peers), wait until it serves, migrate."""
    _on_node(bundle, Node.commit)


@chaincode_group.command("ready")
@bundle_option
def chaincode_ready(bundle: Path) -> None:
    """Wait until a submit through this org's gateway commits; then start its record store and web apps."""
    _on_node(bundle, Node.ready)


COMMANDS = (generate_command, bundle_command, node_group, channel_group, chaincode_group)
