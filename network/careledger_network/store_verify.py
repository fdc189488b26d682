"""`careledger-network store verify --org ORG`: scrub an organization's record store.

Every blob in every place of the store (its local folder, and the replica named by `record_store:` in
consortium.yaml) is read and checked against its SHA-256; a blob missing or corrupt in one place is
repaired from the other; blobs checked per second are printed.

What the ledger says must exist: the chaincode offers the custodian's admin no read-only listing of the
record versions it keeps (ListPatientRecords is per patient and an admin may list only its own org's
patients, though a custodian keeps records of other orgs' patients too; GetRecordHistory is per record).
So the scrub checks the addresses the store holds, plus the ledger's ciphertext SHA-256s given with
--expect (one per line, as exported from the ledger), which it reports as lost when no place holds them.
It reads the places directly, beside a running store: blobs are immutable and written atomically.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click
from careledger_store import BlobError, PlaceSpec, Problem, ScrubReport, check_address, open_blobs, scrub

from .consortium import ConsortiumError, load
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
@click.option("--no-repair", is_flag=True, help="report only; change nothing")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def verify(
    consortium_path: Path | None, org_key: str, expect_path: Path | None, no_repair: bool, as_json: bool
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
    try:
        report = scrub(open_blobs(primary, replica, check=True), expected, repair=not no_repair)
    except BlobError as exc:  # a place that cannot be used (unreachable endpoint, missing bucket, credentials)
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    if as_json:
        click.echo(json.dumps(_summary(report), indent=2))
    else:
        for place in report.places:
            click.echo(f"  {place}")
        for name, counts in _problems(report).items():
            click.echo(f"  {name}: " + ", ".join(f"{n} {problem}" for problem, n in counts.items()))
        repaired = sum(1 for f in report.findings if f.repaired)
        click.echo(f"  repaired {repaired}; lost (whole in no place) {len(report.lost)}")
        click.echo(f"checked {report.checked} blobs in {report.seconds:.2f} s: {report.per_second:.0f} blobs/s")
    sys.exit(0 if report.clean else 1)
