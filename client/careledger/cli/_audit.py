"""`careledger` Audit: access trails, verification against the blocks, FHIR exports."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from .. import fhir
from ..services import Session
from ._base import (
    EXIT_INTEGRITY,
    EXIT_REFUSED,
    Context,
    _event_row,
    _run,
    main,
    pass_ctx,
    with_session,
)


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
        c.emit(
            {
                "resourceType": "Bundle",
                "type": "collection",
                "entry": [{"resource": fhir.audit_event(e)} for e in events],
            }
        )
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
@click.argument("export", type=click.File("r"))
@pass_ctx
def audit_check(c: Context, export: Any) -> None:
    """Check an exported trail (`audit log --json`, or its --fhir Bundle) against the blocks themselves."""

    def act() -> None:
        from ..ledger import BlockReader, verify_trail

        doc = json.load(export)
        if isinstance(doc, dict) and doc.get("resourceType") == "Bundle":
            tx_ids = [
                d["valueString"]
                for entry in doc.get("entry", [])
                for d in entry["resource"]["entity"][0].get("detail", [])
                if d.get("type") == "fabric-transaction"
            ]
        elif isinstance(doc, list):
            tx_ids = [e["tx_id"] for e in doc]
        else:
            raise ValueError("the export must be the JSON of `audit log --json` or a FHIR Bundle of AuditEvents")
        with c.session() as s:
            report = verify_trail(BlockReader(s.gateway, s.contract.network.name), tx_ids)
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
            lambda r: (
                ("OK" if r["ok"] else "MISMATCH") + f": {r['events_checked']} events, {r['blocks_checked']} blocks"
            ),
        )
        if not report.ok:
            sys.exit(EXIT_INTEGRITY)

    _run(act)


@audit.command("consents")
@click.option("--patient", help="patient id (default: yourself)")
@with_session
def audit_consents(c: Context, s: Session, patient: str | None) -> None:
    """A patient's consents as a FHIR Bundle of Consent resources."""
    grants = s.grants_of(patient)
    c.as_json = True
    c.emit(
        {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": fhir.consent(g)} for g in grants],
        }
    )
