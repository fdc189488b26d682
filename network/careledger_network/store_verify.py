"""`careledger-network store verify --org ORG`: scrub an organization's record store.

Every blob in every place of the store (its local folder, and the replica named by `record_store:` in
consortium.yaml) is read and checked against its SHA-256; a blob missing or corrupt in one place is
repaired from the other; blobs checked per second are printed.

What the ledger says must exist: by default the scrub asks the ledger (ListCustodianRecords, as the org's
admin) which records the org keeps and the SHA-256 of each current version's ciphertext. One that no place
holds is reported lost. A blob that no current version names opens for nobody (an erased record's
ciphertext brought back by restoring an older backup, or a superseded version's: their keys are gone from
the ledger), and is deleted from every place. The places are listed before the ledger is asked, so a blob
uploaded meanwhile (the ledger names a version before its store accepts the ciphertext) is never taken for
one of these. `--no-ledger` checks only what the places hold, plus the SHA-256s given with --expect.
It reads the places directly, beside a running store: blobs are immutable and written atomically.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click
from careledger.errors import CareLedgerError
from careledger.services import Session
from careledger_store import BlobError, PlaceSpec, Problem, ScrubReport, check_address, open_blobs, scrub
from fabric_gateway import GatewayError

from .consortium import ConsortiumError, Org, load
from .paths import state_dir
from .store_places import store_places


def _expected(path: Path | None) -> list[str]:
    if path is None:
        return []
    lines = [line.strip() for line in path.read_text().splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


PROBLEMS: tuple[Problem, ...] = ("missing", "corrupt", "unavailable")


def _problems(report: ScrubReport) -> dict[str, dict[str, int]]:
    """Per place (primary, replica): how many blobs were missing, corrupt or could not be read there."""
    places = [p.split(":", 1)[0] for p in report.places]
    return {place: {problem: report.count(place, problem) for problem in PROBLEMS} for place in places}


def _summary(report: ScrubReport) -> dict[str, object]:
    return {
        "places": report.places,
        "checked": report.checked,
        "seconds": round(report.seconds, 3),
        "blobs_per_second": round(report.per_second, 1),
        "problems": _problems(report),
        "repaired": sum(1 for f in report.findings if f.repaired),
        "not_repaired": [
            {"address": f.address, "place": f.place, "problem": f.problem} for f in report.findings if not f.repaired
        ],
        "lost": report.lost,
    }


def _current_versions(org: Org) -> set[str]:
    """The SHA-256 of every current ciphertext the ledger says `org` keeps, asked as the org's admin."""
    with Session.open(state_dir() / "profiles" / f"{org.key}.json", org.admin) as admin:
        return {e["ciphertext_sha256"] for e in admin.custodian_records() if "ciphertext_sha256" in e}


@click.group("store")
def store() -> None:
    """The organizations' record stores."""


@store.command()
@click.option("--consortium", "consortium_path", type=click.Path(path_type=Path, dir_okay=False), default=None)
@click.option("--org", "org_key", required=True, help="the custodian organization whose store is checked")
@click.option(
    "--expect",
    "expect_path",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="the ledger's ciphertext SHA-256s of the org's record versions, one per line (lost if no place has one)",
)
@click.option(
    "--ledger/--no-ledger",
    "use_ledger",
    default=True,
    help="check against the ledger's list of the org's records (the network must be up); default: on",
)
@click.option("--no-repair", is_flag=True, help="report only; change nothing")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def verify(
    consortium_path: Path | None,
    org_key: str,
    expect_path: Path | None,
    use_ledger: bool,
    no_repair: bool,
    as_json: bool,
) -> None:
    """Check every blob of ORG's record store in each place; repair a missing or corrupt copy from the other.
    Exit 0 when every blob is whole everywhere (after repairs), 1 when one is lost, not repaired or a place
    cannot be used, 2 on bad input."""
    try:
        org = load(consortium_path).org(org_key)
        if not org.store_port:
            raise ConsortiumError(f"{org.name} runs no record store (record_store in consortium.yaml)")
        places = store_places(state_dir(), org)
        if places.replica is None and not Path(places.primary).is_dir():
            raise ConsortiumError(f"{org.name}'s store has no folder {places.primary} yet (is the network set up?)")
        expected = [check_address(a) for a in _expected(expect_path)]
    except (ConsortiumError, BlobError) as exc:  # BlobError: an --expect line that is not a SHA-256
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    os.environ.update(places.env)  # boto3 reads where its credentials are from the environment
    primary = PlaceSpec(places.primary, places.endpoint)
    replica = PlaceSpec(places.replica, places.endpoint) if places.replica else None
    unnamed: set[str] = set()
    try:
        blobs = open_blobs(primary, replica, check=True)
        if use_ledger:
            held = set(blobs.addresses())  # before asking the ledger: see the module's docstring
            current = _current_versions(org)
            expected = sorted(set(expected) | current)
            unnamed = held - current
        report = scrub(blobs, expected, repair=not no_repair, expected_is_complete=use_ledger)
        if not no_repair:
            for address in sorted(unnamed):
                blobs.delete(address)
    except BlobError as exc:  # a place that cannot be used (unreachable endpoint, missing bucket, credentials)
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except (CareLedgerError, GatewayError) as exc:
        click.echo(f"error: the ledger could not list {org.name}'s records ({exc}); is the network up?", err=True)
        sys.exit(1)
    deleted = 0 if no_repair else len(unnamed)
    if as_json:
        click.echo(json.dumps({**_summary(report), "named_by_no_record": len(unnamed), "deleted": deleted}, indent=2))
    else:
        for place in report.places:
            click.echo(f"  {place}")
        for name, counts in _problems(report).items():
            click.echo(f"  {name}: " + ", ".join(f"{n} {problem}" for problem, n in counts.items()))
        repaired = sum(1 for f in report.findings if f.repaired)
        click.echo(f"  repaired {repaired}; lost (whole in no place) {len(report.lost)}")
        if report.lost:  # a client whose upload failed keeps the ciphertext until it flushes (careledger's outbox)
            click.echo("  a lost one may still wait in a client's upload outbox: `careledger record flush` there")
        if use_ledger:
            click.echo(
                f"  named by no current record version (erased or superseded): {len(unnamed)}, deleted {deleted}"
            )
        click.echo(f"checked {report.checked} blobs in {report.seconds:.2f} s: {report.per_second:.0f} blobs/s")
    sys.exit(0 if report.clean else 1)
