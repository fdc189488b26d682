"""`careledger-network`: the commands behind `make network-up` and friends."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

from .consortium import ConsortiumError, load
from .network import Network, NetworkError
from .paths import SetupError, state_dir

T = TypeVar("T")


def _network(consortium_path: Path | None) -> Network:
    return Network(load(consortium_path), state_dir(), echo=lambda line: click.echo(line))


def _run(consortium_path: Path | None, action: Callable[[Network], T]) -> T:
    """Run one network action; bad input exits 2, a network failure exits 1, each with the reason."""
    try:
        return action(_network(consortium_path))
    except (ConsortiumError, SetupError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except (NetworkError, TimeoutError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


consortium_option = click.option(
    "--consortium",
    "consortium_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="consortium definition (default: network/consortium.yaml)",
)


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
@click.argument("enrollment_id")
def revoke(consortium_path: Path | None, org_key: str, reason: str, enrollment_id: str) -> None:
    """Revoke ENROLLMENT_ID at its org's CA and publish the CRL on the channel, so peers refuse it."""
    _run(consortium_path, lambda network: network.revoke(org_key, enrollment_id, reason))


@main.command()
@consortium_option
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def status(consortium_path: Path | None, as_json: bool) -> None:
    """Every process: PID, ports and health from its operations endpoint. Exit 1 if any is unhealthy."""
    rows = _run(consortium_path, Network.status)
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


if __name__ == "__main__":
    main()
