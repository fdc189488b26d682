"""`careledger consent request|requests|approve|decline` and `careledger emergency open|release|list|review|show`:
asking a patient for access, answering, and emergency access across hospitals with its review."""

from __future__ import annotations

from typing import Any

import click
from careledger_protocol import PURPOSES

from ..services import EmergencyOpening, OpenedRecord, Session
from ._base import EXIT_BAD_INPUT, Context, _fail, _run, main, pass_ctx, with_session
from ._consent import consent

VERDICTS = ("justified", "unjustified")


def _request_row(r: dict[str, Any]) -> str:
    scope = ",".join(r["record_ids"] + r["categories"])
    return (
        f"{r['id']}  {r['requester']} -> {r['patient_id']}  {','.join(r['purposes'])}  {scope}  "
        f"until {r['valid_until']}  {r['status'].upper()}" + (f" (grant {r['grant_id']})" if r.get("grant_id") else "")
    )


# -- consent requests ----------------------------------------------------------------------------------------------
@consent.command("request")
@click.option("--patient", required=True, help="the patient (a bare id is a patient of your own organization)")
@click.option("--record", "records", multiple=True)
@click.option("--category", "categories", multiple=True)
@click.option("--purpose", "purposes", multiple=True, required=True, type=click.Choice(PURPOSES))
@click.option(
    "--until", required=True, help="end of the access asked for: ISO 8601 with zone, e.g. 2027-06-30T00:00:00Z"
)
@click.option(
    "--message", help="words for the patient (kept off the blocks: only the patient, you and auditors read it)"
)
@pass_ctx
def consent_request(
    c: Context,
    patient: str,
    records: tuple[str, ...],
    categories: tuple[str, ...],
    purposes: tuple[str, ...],
    until: str,
    message: str | None,
) -> None:
    """Ask a patient for access to records or categories (clinicians and researchers)."""
    if not records and not categories:
        _fail("give at least one --record or --category", EXIT_BAD_INPUT)

    def act() -> None:
        with c.session() as s:
            made = s.request_consent(
                patient, list(purposes), until, list(records) or None, list(categories) or None, message
            )
            c.emit(made, lambda r: f"asked {r['patient_id']}: request {r['id']}, pending until {r['expires_at']}")

    _run(act)


@consent.command("requests")
@click.option("--sent", is_flag=True, help="the requests you made (clinicians, researchers), not those made to you")
@click.option("--for", "for_member", help="auditors: the requests made to this patient (or by it, with --sent)")
@with_session
def consent_requests(c: Context, s: Session, sent: bool, for_member: str | None) -> None:
    """Requests made to you (patients), or made by you with --sent, with their status."""
    if sent:
        items = s.consent_requests_by(for_member) if for_member else s.my_consent_requests()
    else:
        items = s.consent_requests_to(for_member)
    c.emit(items, lambda rs: "\n".join(map(_request_row, rs)) or "no consent requests")


@consent.command("show-request")
@click.argument("request_id")
@with_session
def consent_show_request(c: Context, s: Session, request_id: str) -> None:
    """One request with its message (and a decline's reason)."""
    r = s.consent_request(request_id)
    words = "".join(f"\n{k}: {v}" for k, v in (("message", r.get("message")), ("reason", r.get("reason"))) if v)
    c.emit(r, lambda _: _request_row(dict(r)) + words)


@consent.command("approve")
@click.argument("request_id")
@click.option("--purpose", "purposes", multiple=True, type=click.Choice(PURPOSES), help="narrower than asked")
@click.option("--until", help="an earlier end than asked (ISO 8601 with zone)")
@with_session
def consent_approve(c: Context, s: Session, request_id: str, purposes: tuple[str, ...], until: str | None) -> None:
    """Grant what a request asks (or less) and answer it with that grant."""
    grant, answered = s.grant_requested(request_id, list(purposes) or None, until)
    c.emit(answered, lambda r: f"approved {r['id']} with grant {grant['id']} until {grant['valid_until']}")


@consent.command("decline")
@click.argument("request_id")
@click.option("--reason", help="why, for the requester (kept off the blocks)")
@with_session
def consent_decline(c: Context, s: Session, request_id: str, reason: str | None) -> None:
    answered = s.decline_consent_request(request_id, reason)
    c.emit(answered, lambda r: f"declined {r['id']}")


# -- emergencies ---------------------------------------------------------------------------------------------------
@main.group()
def emergency() -> None:
    """Emergency access across hospitals, the custodian's key release, and the review of every emergency."""


def _opening(o: EmergencyOpening) -> dict[str, Any]:
    items = [
        {"record_id": i.record_id, "opened": True, "resource": i.resource}
        if isinstance(i, OpenedRecord)
        else {"record_id": i.record_id, "opened": False, "reason": i.reason, "awaiting_custodian": i.awaiting_custodian}
        for i in o.items
    ]
    return {"access_tx_id": o.access_tx_id, "open_until": o.open_until, "records": items}


def _opening_text(doc: dict[str, Any]) -> str:
    lines = [f"emergency access {doc['access_tx_id']} (open until {doc['open_until']})"]
    for r in doc["records"]:
        lines.append(f"{r['record_id']}: " + ("opened" if r["opened"] else f"not opened: {r['reason']}"))
    return "\n".join(lines)


@emergency.command("open")
@click.option("--record", "records", multiple=True, required=True)
@click.option("--justification", required=True, help="why, in at least 20 letters (kept off the blocks)")
@click.option("--wait", type=float, default=0.0, help="seconds to wait for other hospitals to release their keys")
@with_session
def emergency_open(c: Context, s: Session, records: tuple[str, ...], justification: str, wait: float) -> None:
    """Break the glass: open records without consent; the access is flagged and reviewed afterwards."""
    c.emit(_opening(s.break_glass(list(records), justification, wait)), _opening_text)


@emergency.command("fetch")
@click.argument("access_tx_id")
@with_session
def emergency_fetch(c: Context, s: Session, access_tx_id: str) -> None:
    """Open what custodians have released since, for your emergency access."""
    items = s.open_released(access_tx_id)
    opening = EmergencyOpening(access_tx_id, "", items)
    c.emit(_opening(opening), _opening_text)


@emergency.command("release")
@click.argument("access_tx_id", required=False)
@with_session
def emergency_release(c: Context, s: Session, access_tx_id: str | None) -> None:
    """Custodian systems (with --org-key-from): re-wrap for emergency requesters the keys of your organization's
    records they await: of one emergency, or of every emergency awaiting one."""
    if access_tx_id:
        one = s.release_emergency_keys(access_tx_id)
        released = [one] if one else []
    else:
        released = s.release_pending_emergency_keys()
    c.emit(
        released,
        lambda rs: (
            "\n".join(f"released {', '.join(r['released'])} to {r['requester']}" for r in rs) or "nothing awaited"
        ),
    )


@emergency.command("list")
@click.option("--custodian", default="", help="the custodian's MSP (your own, unless you audit for the authority)")
@click.option("--which", type=click.Choice(("unreviewed", "all", "awaiting-release")), default="unreviewed")
@with_session
def emergency_list(c: Context, s: Session, custodian: str, which: str) -> None:
    """The emergency accesses to review (auditors, a custodian's auditor or admin)."""
    items = s.emergencies(custodian, which)

    def row(e: dict[str, Any]) -> str:
        review = e["review"]["verdict"].upper() if e.get("review") else "awaiting review"
        return f"{e['time']}  {e['access_tx_id']}  {e['requester']} on {', '.join(e['record_ids'])}  {review}"

    c.emit(items, lambda es: "\n".join(map(row, es)) or "no emergencies")


@emergency.command("review")
@click.argument("access_tx_id")
@click.option("--verdict", required=True, type=click.Choice(VERDICTS))
@click.option("--note", required=True, help="why, in at least 20 letters (kept off the blocks)")
@with_session
def emergency_review(c: Context, s: Session, access_tx_id: str, verdict: str, note: str) -> None:
    review = s.review_emergency(access_tx_id, verdict, note)
    c.emit(review, lambda r: f"{r['access_tx_id']} marked {r['verdict']} by {r['reviewer']}")


@emergency.command("show")
@click.argument("access_tx_id")
@with_session
def emergency_show(c: Context, s: Session, access_tx_id: str) -> None:
    """An emergency's justification and review (its requester, the patients concerned, reviewers)."""
    review = s.emergency_review(access_tx_id)
    doc: dict[str, Any] = {"access_tx_id": access_tx_id, "review": review}

    def text(d: dict[str, Any]) -> str:
        r = d["review"]
        if r is None:
            return f"{access_tx_id}: awaiting review"
        return f"{access_tx_id}: {r['verdict']} ({r['reviewer']}, {r['time']}): {r.get('note') or ''}"

    c.emit(doc, text)
