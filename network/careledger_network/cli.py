"""`careledger-network`: the commands behind `make network-up` and friends."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click
from careledger_protocol import COMPROMISE_REASONS

from .consortium import load
from .network import Network
from .node_cli import COMMANDS as MULTI_HOST_COMMANDS
from .node_cli import consortium_option, guarded, print_status
from .org_join import join_org
from .paths import state_dir
from .store_verify import store as store_group

T = TypeVar("T")


def _network(consortium_path: Path | None) -> Network:
    return Network(load(consortium_path), state_dir(), echo=lambda line: click.echo(line))


def _run(consortium_path: Path | None, action: Callable[[Network], T]) -> T:
    """Run one network action; bad input exits 2, a network failure exits 1, each with the reason."""
    return guarded(lambda: action(_network(consortium_path)))


@click.group()
def main() -> None:
    """Run the local CareLedger consortium as native processes."""


@main.command()
@consortium_option
def up(consortium_path: Path | None) -> None:
    """Create and start the network, or say it is already up."""
    _run(consortium_path, Network.up)


@main.command()
@consortium_option
def start(consortium_path: Path | None) -> None:
    """Start a stopped network (ledgers and identities kept)."""
    _run(consortium_path, Network.start)


@main.command()
@consortium_option
def stop(consortium_path: Path | None) -> None:
    """Stop every process; keep ledgers and identities."""
    _run(consortium_path, Network.stop)


@main.command()
@consortium_option
def down(consortium_path: Path | None) -> None:
    """Stop every process and delete all network state."""
    _run(consortium_path, Network.down)


@main.command("chaincode-upgrade")
@consortium_option
def chaincode_upgrade(consortium_path: Path | None) -> None:
    """Redeploy the current chaincode with the next sequence number."""
    _run(consortium_path, Network.upgrade_chaincode)


@main.command("join-org")
@consortium_option
@click.option("--org", "org_key", required=True, help="the organization joining (in the consortium definition)")
def join_org_command(consortium_path: Path | None, org_key: str) -> None:
    """Add ORG, new in the consortium definition, to the running channel, taking every party's steps: its CA and
    identities, the config update signed by a majority of the members' admins and the orderer org's, its
    peers joining, the chaincode definition that counts it, its record store (org_join.py)."""
    joined = _run(consortium_path, lambda network: join_org(network, org_key))
    click.echo(
        f"{joined.org} joined in {joined.seconds:.1f} s: config block {joined.config_block}, "
        f"chaincode sequence {joined.sequence}"
    )


@main.command()
@consortium_option
def apps(consortium_path: Path | None) -> None:
    """Start the web apps (hospital apps, consent portal, researcher and auditor apps); print their URLs."""
    for url in _run(consortium_path, Network.start_apps):
        click.echo(f"  {url}")


@main.command()
@consortium_option
@click.option("--org", "org_key", required=True, help="the organization whose CA issued the identity")
@click.option(
    "--reason",
    default="unspecified",
    type=click.Choice(["unspecified", "keycompromise", "affiliationchange", "superseded", "cessationofoperation"]),
    help="the RFC 5280 reason recorded in the CRL",
)
@click.option(
    "--ledger-reason",
    type=click.Choice(COMPROMISE_REASONS),
    default=None,
    help="mark the member's encryption key compromised for this reason (default: from --reason: keycompromise, "
    "affiliationchange and cessationofoperation do)",
)
@click.argument("enrollment_id")
def revoke(
    consortium_path: Path | None, org_key: str, reason: str, ledger_reason: str | None, enrollment_id: str
) -> None:
    """Revoke ENROLLMENT_ID at its org's CA and publish the CRL on the channel, so peers refuse it; when the key
    went with it, mark the member's key compromised on the ledger, so pending grants stop releasing keys."""
    _run(consortium_path, lambda network: network.revoke(org_key, enrollment_id, reason, ledger_reason=ledger_reason))


@main.command()
@consortium_option
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def status(consortium_path: Path | None, as_json: bool) -> None:
    """Every process: PID, ports and health from its operations endpoint. Exit 1 if any is unhealthy."""
    print_status(_run(consortium_path, Network.status), as_json)


@main.command("backup")
@consortium_option
@click.option("--org", "org_key", required=True, help="the organization to back up (e.g. hospital1)")
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False))
def backup_command(consortium_path: Path | None, org_key: str, folder: Path) -> None:
    """Back up what ORG owns (store, CA, wallets, directory, a peer ledger snapshot) into the new FOLDER."""
    from .backup import backup

    manifest = _run(consortium_path, lambda network: backup(network, org_key, folder))
    files, block = len(manifest.files), manifest.snapshot_block
    click.echo(f"{org_key} backed up to {folder}: {files} files, ledger snapshot at block {block}")


@main.command("restore")
@consortium_option
@click.option("--org", "org_key", required=True, help="the organization to restore (its processes must be stopped)")
@click.option(
    "--full-history", is_flag=True, help="rejoin from the genesis block (every block) instead of the snapshot"
)
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False, exists=True))
def restore_command(consortium_path: Path | None, org_key: str, full_history: bool, folder: Path) -> None:
    """Bring ORG back from the backup in FOLDER and rejoin the channel."""
    from .backup import restore

    manifest = _run(consortium_path, lambda network: restore(network, org_key, folder, full_history))
    click.echo(f"{org_key} restored from the backup of {manifest.created} (snapshot block {manifest.snapshot_block})")


main.add_command(store_group)  # `careledger-network store verify --org ORG`: the record-store scrub

for command in MULTI_HOST_COMMANDS:  # generate, bundle, node, channel, chaincode (node_cli.py)
    main.add_command(command)

if __name__ == "__main__":
    main()
