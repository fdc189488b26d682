"""The hospital app's consent requests and emergencies (blueprint "requests").

- Ask the patient: from a patient page or a refusal, a clinician or researcher asks the patient for access
  (records or categories, purposes, until a day, a message); "My requests" lists them with the patient's answer.
- Emergency access from a patient page: the patient's records (chosen, or all of them, picked by the ledger),
  with a justification; what another hospital holds opens once that hospital releases the key (fetch again).
- Emergency review: the hospital's privacy officer (its auditor, or its admin) marks each emergency on the
  hospital's records justified or not (_emergency_review); the admin releases the keys owed to other hospitals'
  emergency requesters, which the app also does on its own when EMERGENCY_RELEASER is set (_releaser, which
  also re-wraps recovered patients' keys).

Free text (a message, a justification, a note) goes to the ledger as transient data only, never in a URL or log.
"""

from __future__ import annotations

import re
from typing import Any

from careledger.errors import ChaincodeRefusal, IdentityError
from careledger.services import EmergencyOpening
from careledger_protocol import MIN_JUSTIFICATION_LETTERS, PURPOSES, ConsentRequest, valid_justification
from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers.response import Response

from ._common import current_session, login_required
from ._emergency_review import queue_context, review_form, submit_review
from ._forms import Form, _read_day, latest_day, through_day, today_utc
from ._messages import Page

bp = Blueprint("requests", __name__)
MAX_MESSAGE = 2000
_CATEGORY = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
REVIEWERS = ("admin", "auditor")  # a hospital's privacy officer: its auditor, or its admin where it has none


def _categories(form: Form) -> list[str]:
    words = [w for w in re.split(r"[\s,]+", form.value("categories").strip().lower()) if w]
    return [w for w in words if _CATEGORY.match(w)]


def refused_page(page: Page, reason: str, record_id: str, purpose: str, patient_id: str) -> tuple[str, int]:
    """A refusal to open a record, with the ways on: ask the patient (prefilled with the record and purpose),
    or emergency access (from the patient's page when the patient is known, else by the record's id)."""
    ask_url = url_for("requests.ask", patient_id=patient_id, record=record_id, purpose=purpose) if patient_id else ""
    html = render_template(
        "hospital_refused.html", title=page.title, advice=page.advice, reason=reason, ask_url=ask_url,
        patient_id=patient_id,
    )  # fmt: skip
    return html, page.status


# -- asking the patient ----------------------------------------------------------------------------------------------
@bp.route("/patients/<patient_id>/ask", methods=["GET", "POST"])
@login_required
def ask(patient_id: str) -> str | Response | tuple[str, int]:
    me = current_session()
    patient_id = me.qualify(patient_id)
    if request.method == "GET":  # prefilled from a refusal: the record refused and the purpose asked for
        defaults = MultiDict([("record", r) for r in request.args.getlist("record")])
        defaults.setlist("purpose", [p for p in request.args.getlist("purpose") if p in PURPOSES])
        return _ask_page(patient_id, Form("ask", defaults))
    form = Form("ask", request.form.copy())
    purposes = [p for p in form.chosen("purpose") if p in PURPOSES]
    records, categories = form.chosen("record"), _categories(form)
    if not purposes:
        form.problem("purpose", "ask.purpose.missing")
    if not (records or categories):
        form.problem("scope", "ask.scope.missing")
    message = form.value("message").strip()
    if len(message) > MAX_MESSAGE:
        form.problem("message", "message.long")
    last_day = _read_day(form, "until", today_utc())
    if last_day is None or not form.ok:
        return _ask_page(patient_id, form), 400
    try:
        made = me.request_consent(
            patient_id, purposes, through_day(last_day), records or None, categories or None, message or None
        )
    except ChaincodeRefusal as exc:
        form.refused(exc)
        return _ask_page(patient_id, form), form.status
    flash(f"Your request was sent to the patient; it stays open until {made['expires_at'][:10]}.")
    return redirect(url_for("requests.mine"))


def _ask_page(patient_id: str, form: Form) -> str:
    today = today_utc()
    return render_template(
        "hospital_ask.html",
        patient_id=patient_id,
        form=form,
        first_day=today.isoformat(),
        last_day=latest_day(today).isoformat(),
        max_message=MAX_MESSAGE,
    )


@bp.route("/requests")
@login_required
def mine() -> str:
    me = current_session()
    rows: list[tuple[ConsentRequest, str | None]] = []
    for r in reversed(me.my_consent_requests()):  # newest first
        reason = me.consent_request(r["id"]).get("reason") if r.get("reason_sha256") else None
        rows.append((r, reason))
    return render_template("hospital_requests.html", rows=rows)


# -- emergency access from a patient page ----------------------------------------------------------------------------
@bp.route("/patients/<patient_id>/emergency", methods=["GET", "POST"])
@login_required
def patient_emergency(patient_id: str) -> str | tuple[str, int]:
    me = current_session()
    patient_id = me.qualify(patient_id)
    if request.method == "GET":
        return _emergency_page(patient_id, Form("patient-emergency", MultiDict({"scope": "all"})))
    form = Form("patient-emergency", request.form.copy())
    scope, records, justification = form.value("scope"), form.chosen("record"), form.value("justification").strip()
    if scope != "all" and not records:
        form.problem("scope", "emergency.scope.missing")
    if not valid_justification(justification):
        form.problem("justification", "justification.short")
    if not form.ok:
        return _emergency_page(patient_id, form), 400
    try:
        if scope == "all":
            opening = me.break_glass_for_patient(patient_id, justification, _categories(form) or None)
        else:
            opening = me.break_glass(records, justification)
    except ChaincodeRefusal as exc:
        form.refused(exc)
        return _emergency_page(patient_id, form), form.status
    return render_template("hospital_emergency_result.html", opening=opening, patient_id=patient_id)


def _emergency_page(patient_id: str, form: Form) -> str:
    me = current_session()
    try:
        records = [r for r in me.records_of(patient_id) if r["status"] == "active"]
    except ChaincodeRefusal:  # none visible without consent: "all of the patient's records" still works
        records = []
    return render_template(
        "hospital_patient_emergency.html",
        patient_id=patient_id,
        records=records,
        form=form,
        min_letters=MIN_JUSTIFICATION_LETTERS,
    )


@bp.route("/emergency/<access_tx_id>/fetch", methods=["POST"])
@login_required
def fetch_released(access_tx_id: str) -> str:
    """Open what the other hospitals have released since, for this clinician's emergency access."""
    items = current_session().open_released(access_tx_id)
    opening = EmergencyOpening(access_tx_id, request.form.get("open_until", ""), items)
    return render_template("hospital_emergency_result.html", opening=opening, patient_id=request.form.get("patient"))


# -- review and key release (the hospital's privacy officer, its admin) ---------------------------------------------
@bp.route("/emergencies/review", methods=["GET", "POST"])
@login_required
def review_queue() -> str | Response | tuple[str, int]:
    me = current_session()
    hospital = me.gateway.identity.msp_id
    which = request.values.get("which", "unreviewed")
    if g.user.role not in REVIEWERS:
        return render_template("hospital_emergency_review.html", allowed=False, hospital=hospital), 403
    sent = None
    if request.method == "POST":
        sent = review_form(request.form.copy())
        if submit_review(me, sent) is not None:
            flash("Review saved on the ledger; the requester, the patient and the auditors see it.")
            return redirect(url_for("requests.review_queue", which=which))
    context: dict[str, Any] = queue_context(me, url_for("requests.review_queue"), hospital, which, sent)
    problem = sent is not None and not sent.ok
    page = render_template(
        "hospital_emergency_review.html", allowed=True, hospital=hospital, problem=problem, **context
    )
    return page, (sent.status if sent is not None else 200)


@bp.route("/emergencies/release", methods=["POST"])
@login_required
def release() -> Response:
    """The admin releases, with the organization key this app holds, every key other hospitals' emergency
    requesters await from this hospital."""
    me = current_session()
    try:
        released = me.release_pending_emergency_keys()
    except IdentityError:
        flash("This app holds no organization key: keys cannot be released from here.")
        return redirect(url_for("requests.review_queue"))
    flash(f"Released the keys of {sum(len(r['released']) for r in released)} record(s) to emergency requesters.")
    return redirect(url_for("requests.review_queue"))
