"""The emergency review queue, for any app to show: no blueprint, only what a view needs.

    rows = review_queue(session, custodian="", which="unreviewed")   # the ledger's ListEmergencies, as rows
    review = submit_review(session, form)                            # a POSTed review form; None: form.errors say why
    html = render_template("page.html", **queue_context(session, form, action=url_for(...)))
    # and in page.html: {% include "_emergency_review.html" %}

An auditor of the health authority sees every emergency (custodian ""); a hospital's privacy officer (its auditor,
or its admin) those on its records (custodian = its MSP). The note is free text: it goes to the ledger as transient
data only (Session.review_emergency), never in a URL or a log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from careledger.errors import ChaincodeRefusal
from careledger.services import Session
from careledger_protocol import Emergency, EmergencyReview, valid_justification
from werkzeug.datastructures import MultiDict

from ._forms import Form
from ._messages import form_refusal

VERDICT_LABELS = {"justified": "Justified", "unjustified": "Not justified"}
WHICH = ("unreviewed", "all")


@dataclass
class ReviewRow:
    emergency: Emergency
    justification: str | None = None  # the requester's words, when this reviewer may read them
    review: EmergencyReview | None = None  # with its note, once reviewed
    form: Form = field(default_factory=lambda: Form("review"))  # each row's own (field ids name its emergency)

    @property
    def tx(self) -> str:
        return self.emergency["access_tx_id"]


def review_queue(session: Session, custodian: str = "", which: str = "unreviewed") -> list[ReviewRow]:
    """The emergencies to review (or all of them), newest first, each with its justification and review."""
    rows = []
    for item in reversed(session.emergencies(custodian, which if which in WHICH else "unreviewed")):
        row = ReviewRow(item, form=review_form(MultiDict({"access_tx_id": item["access_tx_id"]})))
        try:
            row.justification = session.justification(item["access_tx_id"])["justification"]
        except ChaincodeRefusal:
            row.justification = None  # not held on this peer, or not for this reviewer: the digest stays
        if item.get("reviewed"):
            row.review = session.emergency_review(item["access_tx_id"]) or item.get("review")  # without the note
        rows.append(row)
    return rows


def read_review(form: Form) -> tuple[str, str, str] | None:
    """(access transaction, verdict, note) of a review form, or None with its problems said."""
    txid, verdict, note = form.value("access_tx_id"), form.value("verdict"), form.value("note").strip()
    if verdict not in VERDICT_LABELS:
        form.problem("verdict", "verdict.missing")
    if not valid_justification(note):
        form.problem("note", "note.short")
    return (txid, verdict, note) if form.ok else None


def submit_review(session: Session, form: Form) -> EmergencyReview | None:
    """Send a POSTed review form to the ledger; None when the form or the ledger refused (form says why)."""
    asked = read_review(form)
    if asked is None:
        return None
    try:
        return session.review_emergency(*asked)
    except ChaincodeRefusal as exc:  # in words, by its type (the row's form is named after its emergency)
        name, words, form.status = form_refusal("review", exc)
        if name:
            form.errors.setdefault(name, words)
        else:
            form.general = words
        form.details = exc.reason
        return None


def queue_context(
    session: Session,
    action: str,
    custodian: str = "",
    which: str = "unreviewed",
    sent: Form | None = None,
) -> dict[str, Any]:
    """What `_emergency_review.html` needs: the rows, the URL its forms post to, and a sent form shown again
    (with its problems) on the row it concerns."""
    rows = review_queue(session, custodian, which)
    if sent is not None:
        for row in rows:
            if row.tx == sent.value("access_tx_id"):
                row.form = sent
    return {"review_rows": rows, "review_action": action, "verdicts": VERDICT_LABELS, "review_which": which}


def review_form(values: MultiDict[str, str]) -> Form:
    """A review form as POSTed (its fields: access_tx_id, verdict, note), with per-row field ids."""
    return Form(f"review-{values.get('access_tx_id', '')[:12]}", values)
