"""`careledger` Audit: access trails, verification against the blocks, FHIR exports."""

from __future__ import annotations

import sys
from typing import Any

import click

from .. import fhir
from ..services import Session
from ._base import EXIT_INTEGRITY, EXIT_REFUSED, Context, JsonFile, _event_row, main, with_session


# -- audit --------------------------------------------------------------------------------------------------------
@main.group()
def audit() -> None:
    """Access trails, verification and FHIR exports."""


@audit.command("log")
@click.option("--patient", help="patient id (default: yourself)")
@click.option("--requester", help="the trail of one requester instead")
@click.option("--all", "everything", is_flag=True, help="everything (health-authority auditors)")
@click.option("--fhir", "as_fhir", is_flag=True, help="as FHIR AuditEvent resources")
@with_session
def audit_log(
    c: Context, s: Session, patient: str | None, requester: str | None, everything: bool, as_fhir: bool
) -> None:
    if everything:
        events = s.all_access()
    elif requester:
        events = s.access_by(requester)
    else:
        events = s.access_log(patient)
    if as_fhir:
        c.as_json = True
        c.emit(fhir.bundle(fhir.audit_event(e) for e in events))
        return
    c.emit(
        events,
        lambda es: "\n".join(map(_event_row, es)) or "no access events",
    )


@audit.command("verify")
@click.argument("access_tx_id")
@click.argument("requester")
@click.argument("record_id")
@with_session
def audit_verify(c: Context, s: Session, access_tx_id: str, requester: str, record_id: str) -> None:
    """Did that committed transaction grant that requester that record?"""
    verdict = s.verify_access(access_tx_id, requester, record_id)
    c.emit(verdict, lambda v: ("GRANTED" if v["granted"] else "NOT GRANTED") + f": {v['reason']}")
    if not verdict["granted"]:
        sys.exit(EXIT_REFUSED)


@audit.command("check")
@click.argument(
    "export", type=JsonFile("any", "give the JSON of `audit log --json` or its --fhir Bundle of AuditEvents")
)
@with_session
def audit_check(c: Context, s: Session, export: Any) -> None:
    """Check an exported trail (`audit log --json`, or its --fhir Bundle) against the blocks themselves."""
    from ..ledger import BlockReader, verify_trail

    report = verify_trail(BlockReader(s.gateway, s.contract.network.name), _exported_tx_ids(export))
    summary = {
        "ok": report.ok,
        "blocks_checked": report.blocks_checked,
        "chain_head_matches": report.head_matches,
        "chain_breaks": report.chain_breaks,
        "events_checked": report.events_checked,
        "not_on_ledger": report.missing,
        "not_valid": report.invalid,
    }
    c.emit(
        summary,
        lambda r: ("OK" if r["ok"] else "MISMATCH") + f": {r['events_checked']} events, {r['blocks_checked']} blocks",
    )
    if not report.ok:
        sys.exit(EXIT_INTEGRITY)


def _exported_tx_ids(doc: Any) -> list[str]:
    """The transaction ids an exported trail names: its events' tx_id, or its AuditEvents' Fabric detail."""
    try:
        if isinstance(doc, dict) and doc.get("resourceType") == "Bundle":
            return [
                str(d["valueString"])
                for entry in doc.get("entry", [])
                for entity in entry["resource"]["entity"]
                for d in entity.get("detail", [])
                if d.get("type") == "fabric-transaction"
            ]
        if isinstance(doc, list):
            return [str(e["tx_id"]) for e in doc]
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        raise ValueError(f"the export is damaged (no {exc} where a trail has one): export it again") from None
    raise ValueError("the export must be the JSON of `audit log --json` or a FHIR Bundle of AuditEvents")


@audit.command("consents")
@click.option("--patient", help="patient id (default: yourself)")
@with_session
def audit_consents(c: Context, s: Session, patient: str | None) -> None:
    """A patient's consents as a FHIR Bundle of Consent resources."""
    grants = s.grants_of(patient)
    c.as_json = True
    c.emit(fhir.bundle(fhir.consent(g) for g in grants))
