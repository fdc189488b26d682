"""The portal's consent requests and emergencies (blueprint "requests").

- Requests: what clinicians and researchers asked of the patient, with their message; approving opens the grant
  form prefilled from the request (the patient may narrow it), and the grant made answers the request; declining
  may say why. Answered and lapsed requests stay listed with their outcome.
- Emergencies: every emergency access to the patient's records, with the requester's justification and its
  review (justified or not, by whom, and the note) once an auditor or the hospital's privacy officer made it.
"""

from __future__ import annotations

from dataclasses import dataclass

from careledger.errors import ChaincodeRefusal
from careledger_protocol import AuditEvent, ConsentRequest, EmergencyReview
from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers.response import Response

from ._common import current_session, login_required
from ._forms import Form, latest_day, read_grant, today_utc

bp = Blueprint("requests", __name__)
MAX_REASON = 2000


@dataclass
class Asked:
    request: ConsentRequest
    message: str | None  # the requester's words (None: none sent, or not held on this peer)


@bp.route("/requests")
@login_required
def inbox() -> str:
    me = current_session()
    rows = []
    for r in reversed(me.consent_requests_to()):  # newest first
        words = me.consent_request(r["id"]) if r.get("message_sha256") or r.get("reason_sha256") else r
        rows.append(Asked(words, words.get("message")))
    pending = [a for a in rows if a.request["status"] == "pending"]
    answered = [a for a in rows if a.request["status"] != "pending"]
    return render_template("portal_requests.html", pending=pending, answered=answered)


def _answered_already(asked: ConsentRequest) -> Response | None:
    """Back to the list, saying so, when the request is no longer waiting for an answer."""
    if asked["status"] == "pending":
        return None
    flash(f"This request is {asked['status']} already: there is nothing to answer.")
    return redirect(url_for("requests.inbox"))


@bp.route("/requests/<request_id>/approve", methods=["GET", "POST"])
@login_required
def approve(request_id: str) -> str | Response | tuple[str, int]:
    """GET: the grant form, prefilled from the request; POST: grant, and answer the request with that grant."""
    asked = current_session().consent_request(request_id)
    if (done := _answered_already(asked)) is not None:
        return done
    if request.method == "GET":
        values = MultiDict([("grantee", asked["requester"])])
        values.setlist("record", asked["record_ids"])
        values.setlist("category", asked["categories"])
        values.setlist("purpose", asked["purposes"])
        values["until"] = asked["valid_until"][:10]
        return _approve_page(asked, Form("grant", values))
    form = Form("grant", request.form.copy())
    form.values["grantee"] = asked["requester"]  # the request's requester, whatever was sent
    choice = read_grant(form, today_utc())
    if choice is None:
        return _approve_page(asked, form), 400
    try:
        current_session().grant_requested(
            request_id, choice.purposes, choice.valid_until, choice.record_ids or [], choice.categories or []
        )
    except ChaincodeRefusal as exc:
        form.refused(exc)
        return _approve_page(asked, form), form.status
    flash(f"Access granted until {choice.last_day.day} {choice.last_day:%B %Y}; the request is approved.")
    return redirect(url_for("requests.inbox"))


def _approve_page(asked: ConsentRequest, form: Form) -> str:
    today = today_utc()
    return render_template(
        "portal_request_approve.html",
        asked=asked,
        form=form,
        first_day=today.isoformat(),
        last_day=latest_day(today).isoformat(),
    )


@bp.route("/requests/<request_id>/decline", methods=["GET", "POST"])
@login_required
def decline(request_id: str) -> str | Response | tuple[str, int]:
    asked = current_session().consent_request(request_id)
    if (done := _answered_already(asked)) is not None:
        return done
    form = Form("answer", request.form.copy() if request.method == "POST" else MultiDict())
    if request.method == "GET":
        return render_template("portal_request_decline.html", asked=asked, form=form)
    reason = form.value("reason").strip()
    if len(reason) > MAX_REASON:
        form.problem("reason", "reason.long")
        return render_template("portal_request_decline.html", asked=asked, form=form), 400
    try:
        current_session().decline_consent_request(request_id, reason or None)
    except ChaincodeRefusal as exc:
        form.refused(exc)
        return render_template("portal_request_decline.html", asked=asked, form=form), form.status
    flash("Request declined; the requester sees your answer.")
    return redirect(url_for("requests.inbox"))


@dataclass
class EmergencyOnMine:
    access_tx_id: str
    events: list[AuditEvent]  # its decisions on my records
    justification: str | None
    review: EmergencyReview | None


def emergencies_on(events: list[AuditEvent]) -> list[str]:
    """The emergency access transactions among access events, newest first, each once."""
    seen: dict[str, str] = {}
    for e in events:
        if e["emergency"]:
            seen.setdefault(e["tx_id"], e["time"])
    return sorted(seen, key=lambda tx: seen[tx], reverse=True)


@bp.route("/emergencies")
@login_required
def emergencies() -> str:
    me = current_session()
    events = me.access_log()
    rows = []
    for tx in emergencies_on(events):
        try:
            justification: str | None = me.justification(tx)["justification"]
        except ChaincodeRefusal:
            justification = None  # not held on this peer: the log still shows it was an emergency
        rows.append(
            EmergencyOnMine(tx, [e for e in events if e["tx_id"] == tx], justification, me.emergency_review(tx))
        )
    return render_template("portal_emergencies.html", rows=rows)
