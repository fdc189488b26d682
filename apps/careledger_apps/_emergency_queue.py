"""The auditor app's emergency review queue (/emergencies): every break-glass access of the consortium, for an
auditor of the health authority to mark justified or not after the fact, with a note.

The queue, its forms and its template partial are shared with the hospitals' privacy officers
(_emergency_review.py, `_emergency_review.html`); an auditor of the authority sees every hospital's
emergencies (custodian ""). The note is free text: it travels in the POSTed form and goes to the ledger as
transient data only (Session.review_emergency), never in a URL or a log.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers.response import Response

from ._common import current_session, login_required
from ._emergency_review import queue_context, review_form, submit_review

bp = Blueprint("emergencies", __name__)


@bp.route("/emergencies", methods=["GET", "POST"])
@login_required
def queue() -> str | Response | tuple[str, int]:
    me = current_session()
    which = request.values.get("which", "unreviewed")
    sent = None
    if request.method == "POST":
        sent = review_form(request.form.copy())
        if submit_review(me, sent) is not None:
            flash("Review saved on the ledger; the requester, the patient and the hospital see it.")
            return redirect(url_for("emergencies.queue", which=which))
    context: dict[str, Any] = queue_context(me, url_for("emergencies.queue"), "", which, sent)
    page = render_template("auditor_emergencies.html", problem=sent is not None and not sent.ok, **context)
    return page, (sent.status if sent is not None else 200)
