"""Finding a patient in the hospital app: search this hospital's patients by name, id or date of birth (from the
hospital's directory, careledger.directory), each shown with what is open to the clinician now and what needs
the patient's consent; and what the patient page shows (name, date of birth, records with what is open).

The search is a POST: what is typed (a name, a date of birth) never lands in a URL, a log or the history."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from careledger.directory import People, Person, staff_view
from careledger.errors import NotAuthorized
from careledger_protocol import Record
from flask import Blueprint, Flask, render_template, request

from ._common import current_session, login_required
from ._coverage import Openness, by_patient, purposes_for
from ._display import people

bp = Blueprint("people", __name__)
MAX_QUERY = 100
_MEMBER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}(@[A-Za-z][A-Za-z0-9.-]{0,63})?")


@dataclass(frozen=True)
class Found:
    person: Person
    open_: Openness | None  # None: nothing is open to this clinician, everything needs consent


@bp.route("/patients", methods=["GET", "POST"])
@login_required
def search() -> str:
    query = request.form.get("q", "").strip()[:MAX_QUERY] if request.method == "POST" else ""
    me = current_session()
    hospital = me.gateway.identity.msp_id
    found: list[Found] = []
    by_id = ""
    if query:
        openness = by_patient(me.grants_to_me())
        found = [Found(p, openness.get(p.member_id)) for p in people().search(query) if p.org == hospital]
        if not found and _MEMBER.fullmatch(query):  # an id the directory does not know: the page may still open
            by_id = me.qualify(query)
    return render_template("hospital_search.html", query=query, found=found, by_id=by_id, searched=bool(query))


@dataclass(frozen=True)
class RecordRow:
    record: Record
    open_for: list[str]  # purposes a current grant opens it for; empty: needs consent


def patient_context(patient_id: str) -> dict[str, Any]:
    """The patient page: who the patient is (if the directory says), and their records this clinician may see,
    each with the purposes open to them. A patient whose records the ledger hides from the clinician shows no
    records and says consent is needed."""
    me = current_session()
    grants = [g for g in me.grants_to_me() if g["patient_id"] == patient_id]
    try:
        records = me.records_of(patient_id)
        hidden = False
    except NotAuthorized:  # the ledger's answer: none of them is visible to this clinician without consent
        records, hidden = [], True
    rows = [RecordRow(r, purposes_for(r, grants)) for r in records]
    return {
        "patient_id": patient_id,
        "person": people().get(patient_id),
        "records": records,
        "rows": rows,
        "hidden": hidden,
        "open_": by_patient(grants).get(patient_id),
    }


def use_directory(app: Flask) -> None:
    """Names in the hospital app: the hospital's own directory, opened with the organization key the app's
    sessions hold (ORG_KEY_FROM), and every hospital's published staff. PEOPLE in the config replaces it."""
    root = app.config.get("DIRECTORY_DIR")
    if "PEOPLE" in app.config or not root:
        return

    def factory(session: Any) -> People:
        return staff_view(Path(root), session.gateway.identity.msp_id, session.org_key)

    app.extensions["careledger.people"] = factory
