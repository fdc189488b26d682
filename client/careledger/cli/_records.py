"""`careledger` Records: create, list, open, rotate, erase, and flush the upload outbox."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from careledger_protocol import PURPOSES, Purpose

from ..services import OpenedRecord, Session
from ._base import EXIT_REFUSED, Context, JsonFile, main, with_session


# -- records ------------------------------------------------------------------------------------------------------
@main.group()
def record() -> None:
    """Encrypted records: create, list, open, rotate, erase, flush."""


@record.command("create")
@click.option("--patient", required=True)
@click.option("--category", required=True, help="e.g. laboratory, imaging, vital-signs")
@click.option(
    "--file",
    "resource",
    type=JsonFile("object", "give a FHIR R4 resource as JSON"),
    required=True,
    help="FHIR R4 resource as JSON ('-' for stdin)",
)
@with_session
def record_create(c: Context, s: Session, patient: str, category: str, resource: dict[str, Any]) -> None:
    """Validate, encrypt, store at your hospital, and register a record."""
    c.emit(s.create_record(patient, resource, category), lambda r: f"created {r['id']} (v{r['version']})")


@record.command("list")
@click.option("--patient", help="patient id (default: yourself)")
@with_session
def record_list(c: Context, s: Session, patient: str | None) -> None:
    items = s.records_of(patient)
    c.emit(
        items,
        lambda rs: (
            "\n".join(
                f"{r['id']}  {r['category']:<14} {r['resource_type']:<18} v{r['version']} {r['status']}" for r in rs
            )
            or "no records"
        ),
    )


@record.command("open")
@click.argument("record_ids", nargs=-1, required=True)
@click.option("--purpose", type=click.Choice(PURPOSES), default=Purpose.TREATMENT.value)
@click.option("--emergency", "justification", help="break-glass access with this written justification")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), help="write each record to OUT/<id>.json")
@click.option("--for", "for_patient", help="open this patient's records, as their proxy (with the view right)")
@with_session
def record_open(
    c: Context,
    s: Session,
    record_ids: tuple[str, ...],
    purpose: str,
    justification: str | None,
    out: Path | None,
    for_patient: str | None,
) -> None:
    """Request access (recorded on the ledger), fetch, verify and decrypt the allowed records."""
    results = []
    batches = [list(record_ids[i : i + 100]) for i in range(0, len(record_ids), 100)]
    with click.progressbar(batches, label="opening", file=sys.stderr, show_pos=True) as bar:
        for batch in bar:
            if for_patient:
                results.extend(s.open_records_for(for_patient, batch))
            else:
                results.extend(s.open_records(batch, purpose, justification))
    rows = []
    for r in results:
        if isinstance(r, OpenedRecord):
            if out:
                out.mkdir(parents=True, exist_ok=True)
                (out / f"{r.record_id}.json").write_text(json.dumps(r.resource, indent=2))
            rows.append(
                {
                    "record_id": r.record_id,
                    "opened": True,
                    "version": r.version,
                    "access_tx_id": r.access_tx_id,
                    **({} if out else {"resource": r.resource}),
                }
            )
        else:
            rows.append({"record_id": r.record_id, "opened": False, "reason": r.reason})
    c.emit(
        rows,
        lambda rs: "\n".join(
            f"{x['record_id']}: "
            + (
                "opened" + (f" -> {out}" if out else "\n" + json.dumps(x.get("resource"), indent=2))
                if x["opened"]
                else f"refused: {x['reason']}"
            )
            for x in rs
        ),
    )
    if not any(x["opened"] for x in rows):
        sys.exit(EXIT_REFUSED)


@record.command("rotate")
@click.argument("record_id")
@with_session
def record_rotate(c: Context, s: Session, record_id: str) -> None:
    """Re-encrypt a record under a new key for its current recipients (e.g. after a revocation)."""
    c.emit(s.rotate_record(record_id), lambda r: f"{r['id']} is now v{r['version']}")


@record.command("flush")
@with_session
def record_flush(c: Context, s: Session) -> None:
    """Upload the ciphertexts waiting in your organization's upload outbox (registered on the ledger, but
    their upload to the record store failed); say how many were uploaded and how many remain."""
    uploaded = s.flush_outbox()
    remaining = s.pending_uploads()
    c.emit(
        {"uploaded": uploaded, "remaining": remaining, "outbox": str(s.outbox)},
        lambda r: f"uploaded {r['uploaded']}; {r['remaining']} remain in {r['outbox']}",
    )


@record.command("erase")
@click.argument("record_id")
@click.confirmation_option(prompt="Erasing destroys the record's keys and ciphertext for good. Continue?")
@with_session
def record_erase(c: Context, s: Session, record_id: str) -> None:
    c.emit(s.erase(record_id), lambda r: f"{r['id']} erased at {r['erased_at']}")
