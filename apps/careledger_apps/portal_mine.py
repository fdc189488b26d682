"""The patient's own view in the portal: reading their records (decrypted with their own key, like the hospital
app's record page), the access log in plain words (_access_words), the notification area (_notices) and what
happened to their key if their hospital recovered it (`key_replaced`).

Reading a record is an access on the ledger like any other (the patient's own, for treatment): it is recorded,
and the log says it as "you read it". What the portal learns by reading — a record's title and date — is kept
in this process's memory for the patient (`Titles`), so the log can name the record; never on the ledger, never
in a file."""

from __future__ import annotations

import datetime
import hashlib
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from careledger.directory import People, patient_view
from careledger.errors import ChaincodeRefusal, NotFoundError
from careledger.record_content import date_of, title_of
from careledger.services import OpenedRecord
from careledger_protocol import PURPOSES, EmergencyReview, KeyRecovery, Purpose, Record
from flask import Blueprint, Flask, current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers.response import Response

from ._access_words import LogFilter, log_rows, paged, record_labels
from ._common import PURPOSE_LABELS, current_session, login_required
from ._messages import ACCESS_REFUSED
from ._notices import Notices, SeenMarkers, notices_since
from ._pages import error_page

bp = Blueprint("mine", __name__)


@dataclass
class Titles:
    """Titles and dates of records the patient read in this portal, by a digest of the patient's id."""

    _known: dict[str, dict[str, tuple[str, str]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @staticmethod
    def _key(member_id: str) -> str:
        return hashlib.sha256(member_id.encode()).hexdigest()

    def of(self, member_id: str) -> dict[str, tuple[str, str]]:
        with self._lock:
            return dict(self._known.get(self._key(member_id), {}))

    def learn(self, member_id: str, opened: OpenedRecord) -> None:
        with self._lock:
            mine = self._known.setdefault(self._key(member_id), {})
            mine[opened.record_id] = (title_of(opened.resource), date_of(opened.resource))


def _titles() -> Titles:
    found: Titles = current_app.extensions["careledger.titles"]
    return found


def _seen() -> SeenMarkers:
    found: SeenMarkers = current_app.extensions["careledger.seen"]
    return found


def _purpose_words(purpose: str) -> str:
    return PURPOSE_LABELS.get(purpose, purpose)  # type: ignore[call-overload, no-any-return]


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@bp.route("/records/<record_id>/read", methods=["POST"])
@login_required
def read(record_id: str) -> str | tuple[str, int]:
    """The patient reads their own record: opened with their own key, shown like the hospital's record page."""
    me = current_session()
    result = me.open_records([record_id], Purpose.TREATMENT)[0]
    if not isinstance(result, OpenedRecord):
        return error_page(ACCESS_REFUSED, reason=result.reason)
    _titles().learn(me.member_id(), result)
    return render_template("record.html", record=result, own=True)


@bp.route("/records/titles", methods=["POST"])
@login_required
def learn_titles() -> Response:
    """Read every active record once (one access transaction) so the lists and the log can show titles."""
    me = current_session()
    active = [r["id"] for r in me.my_records() if r["status"] == "active"]
    opened = [o for o in me.open_records(active, Purpose.TREATMENT) if isinstance(o, OpenedRecord)] if active else []
    for item in opened:
        _titles().learn(me.member_id(), item)
    flash(f"Titles shown for {len(opened)} of your records (reading them is recorded as your own access).")
    return redirect(request.referrer if _same_site(request.referrer) else url_for("main.home"))


def _same_site(target: str | None) -> bool:
    return bool(target) and str(target).startswith(request.host_url)


@bp.route("/notifications/seen", methods=["POST"])
@login_required
def mark_seen() -> Response:
    _seen().mark(current_session().member_id(), request.form.get("until") or _now())
    flash("Notifications marked as seen.")
    return redirect(url_for("main.home"))


def labelled_records() -> tuple[list[Record], dict[str, Any]]:
    """The patient's records and how the pages name them (titles from what the portal read)."""
    me = current_session()
    records = me.my_records()
    return records, record_labels(records, _titles().of(me.member_id()))


def notices() -> Notices:
    me = current_session()
    patient_id = me.member_id()
    asked = getattr(me, "consent_requests_to", None)  # consent requests (services/_requests.py), where offered
    requests = asked() if asked is not None else []
    return notices_since(_seen().last_seen(patient_id), patient_id, me.access_log(), me.inferences_of(), requests)


@dataclass(frozen=True)
class KeyReplaced:
    """What the patient is told about the latest recovery of their key: who replaced it and when (the admin who
    opened the recovery, after proving who they are), and how many of their records' keys were re-wrapped."""

    by: str
    on: str
    status: str  # awaiting-key, rewrapping, completed (documents.KeyRecovery)
    rewrapped: int
    to_rewrap: int


def key_replaced() -> KeyReplaced | None:
    """The patient's latest key recovery, where the session offers it (services/_key_recovery.py)."""
    recovery_of = getattr(current_session(), "key_recovery", None)
    try:
        recovery: KeyRecovery | None = recovery_of() if recovery_of is not None else None
    except (ChaincodeRefusal, NotFoundError):
        return None
    if recovery is None:
        return None
    shares = recovery.get("custodians", {}).values()
    return KeyReplaced(
        by=recovery["opened_by"],
        on=recovery.get("key_registered_at", recovery["opened_at"]),
        status=recovery["status"],
        rewrapped=sum(s["rewrapped"] for s in shares),
        to_rewrap=sum(s["to_rewrap"] for s in shares),
    )


def home_context() -> dict[str, Any]:
    records, labels = labelled_records()
    return {"records": records, "labels": labels, "notices": notices(), "now": _now(), "key_replaced": key_replaced()}


def log_page() -> str:
    """The access log in words, filtered and paged (the filters are in the query: none of them is patient data)."""
    me = current_session()
    patient_id = me.member_id()
    chosen = LogFilter.read(request.args, PURPOSES)
    records, labels = labelled_records()
    rows = log_rows(me.access_log(), patient_id, me.grants_of(), labels, _purpose_words)
    page = paged(rows, chosen, _justification, _review)
    return render_template("portal_log.html", page=page, chosen=chosen, records=records)


def _justification(access_tx_id: str) -> str:
    """An emergency's justification, which the patient may read; "" when this peer holds none."""
    try:
        return current_session().justification(access_tx_id)["justification"]
    except (ChaincodeRefusal, NotFoundError):
        return ""


def _review(access_tx_id: str) -> EmergencyReview | None:
    """An emergency's review (the emergency review helper's services/_emergencies.py), where the session has it."""
    review_of = getattr(current_session(), "emergency_review", None)
    if review_of is None:
        return None
    try:
        found: EmergencyReview | None = review_of(access_tx_id)
    except (ChaincodeRefusal, NotFoundError):
        return None
    return found


def use_directory(app: Flask) -> None:
    """Names in the portal: every hospital's published staff and the patient's own entry (DIRECTORY_DIR);
    PEOPLE in the config replaces it. Also the portal's own bookkeeping: titles read, last-seen markers."""
    app.extensions["careledger.titles"] = Titles()
    seen_file = app.config.get("SEEN_FILE")
    app.extensions["careledger.seen"] = SeenMarkers(Path(seen_file) if seen_file else None)
    root = app.config.get("DIRECTORY_DIR")
    if "PEOPLE" in app.config or not root:
        return

    def factory(session: Any) -> People:
        return patient_view(Path(root), session.member_id(), session.encryption_key())

    app.extensions["careledger.people"] = factory
