"""The patient consent portal.

Pages: my records; grant access (a member or an organization; categories or records; purposes;
expiry) and revoke it; the live access log (chaincode events pushed to the page, emergency accesses
highlighted); models run on my data and their results; export of my consents and access trail as FHIR;
erasure of a record.
"""

from __future__ import annotations

import datetime
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from careledger import fhir
from careledger.consent_import import grants_from_consent
from careledger.errors import GatewayError, IdentityError
from careledger.fhir import FHIRError
from careledger.services import Session
from careledger_protocol import PURPOSES
from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers.response import Response as WerkzeugResponse

from . import _auth
from ._common import SessionStore, base_app, current_session, login_required
from ._live import EventReaders, LiveLog

bp = Blueprint("main", __name__)
logger = logging.getLogger(__name__)
TEMPLATES = Path(__file__).parent / "templates"


@bp.route("/")
@login_required
def home() -> str:
    me = current_session()
    return render_template("portal_home.html", records=me.my_records())


@bp.route("/grants")
@login_required
def grants() -> str:
    me = current_session()
    mine = me.grants_of()
    records = me.my_records()
    categories = sorted({r["category"] for r in records if r["status"] == "active"})
    grantees = []
    for org in current_app.config["GRANTEE_ORGS"]:  # who is a patient where is not for patients to list
        for role in ("clinician", "researcher", "organization"):
            grantees += me.members_of(org, role)
    return render_template(
        "portal_grants.html", grants=mine, records=records, categories=categories, grantees=grantees, error=None
    )


@bp.route("/grants", methods=["POST"])
@login_required
def grant() -> WerkzeugResponse | tuple[str, int]:
    grantee = request.form.get("grantee", "").strip()
    purposes = [p for p in request.form.getlist("purpose") if p in PURPOSES]
    categories = request.form.getlist("category")
    record_ids = request.form.getlist("record")
    until = request.form.get("until", "")
    try:
        valid_until = datetime.date.fromisoformat(until)
    except ValueError:
        return render_template("error.html", title="Bad request", reason="Choose an expiry date."), 400
    if not grantee or not purposes or not (categories or record_ids):
        reason = "Choose who, for which purposes, and which records or categories."
        return render_template("error.html", title="Bad request", reason=reason), 400
    grant = current_session().grant(
        grantee, purposes, f"{valid_until.isoformat()}T23:59:59Z", record_ids or None, categories or None
    )
    flash(f"Access granted to {grant['grantee']} until {valid_until.isoformat()}.")
    return redirect(url_for("main.grants"))


@bp.route("/grants/import", methods=["POST"])
@login_required
def import_consent() -> WerkzeugResponse | tuple[str, int]:
    """A FHIR Consent uploaded by the patient: read whole (grants_from_consent), then granted."""
    upload = request.files.get("consent")
    try:
        resource = json.loads(upload.read(256 * 1024)) if upload else None
    except ValueError:
        resource = None
    if not isinstance(resource, dict):
        return render_template("error.html", title="Bad request", reason="Choose a FHIR Consent saved as JSON."), 400
    me = current_session()
    try:
        requests = grants_from_consent(resource, me.member_id())
    except FHIRError as exc:  # the reason names what a grant cannot say; it carries no record content
        return render_template("error.html", title="Consent not imported", reason=str(exc)), 400
    for r in requests:
        me.grant(r.grantee, list(r.purposes), r.valid_until, list(r.record_ids) or None, list(r.categories) or None)
    flash(f"{len(requests)} grant(s) made from the consent document.")
    return redirect(url_for("main.grants"))


@bp.route("/grants/<grant_id>/revoke", methods=["POST"])
@login_required
def revoke(grant_id: str) -> WerkzeugResponse:
    grant = current_session().revoke(grant_id)
    rotated = 0
    if request.form.get("rotate") == "yes":
        for record_id in grant["keyed_records"]:
            current_session().rotate_record(record_id)
            rotated += 1
    flash(f"Access of {grant['grantee']} revoked" + (f"; {rotated} records re-encrypted." if rotated else "."))
    return redirect(url_for("main.grants"))


@bp.route("/log")
@login_required
def log() -> str:
    events = current_session().access_log()
    events.sort(key=lambda e: e["time"], reverse=True)
    return render_template("portal_log.html", events=events)


@bp.route("/log/stream")
@login_required
def log_stream() -> Response:
    """Server-sent events: this patient's access decisions and inferences as they are committed."""
    me = current_session()
    patient_id = me.member_id()
    readers: EventReaders = current_app.extensions["careledger.event_readers"]
    profile, channel, chaincode = me.profile_path, me.contract.network.name, me.contract.chaincode
    seconds = float(current_app.config.get("STREAM_SECONDS", 300))

    def events() -> Iterator[str]:
        live = LiveLog(patient_id)
        yield ": connected\n\n"
        try:
            network = readers.network(profile, channel)  # as the org's event reader (see _live.py)
            with network.chaincode_events(chaincode, timeout=seconds) as stream:
                for event in stream:  # never raises below: a bad event is skipped and counted
                    yield from live.lines(event.event_name, event.payload)
        except (GatewayError, IdentityError, OSError):  # no reader, no peer: say so, do not crash
            yield "event: error\ndata: {}\n\n"
        finally:
            if live.skipped:
                logger.info("live log: skipped %d unknown or malformed chaincode events", live.skipped)

    return Response(events(), mimetype="text/event-stream", headers={"X-Accel-Buffering": "no"})


@bp.route("/models")
@login_required
def models() -> str:
    me = current_session()
    return render_template("portal_models.html", inferences=me.inferences_of())


@bp.route("/export")
@login_required
def export() -> Response:
    me = current_session()
    patient_id = me.member_id()
    resources = [fhir.consent(g_) for g_ in me.grants_of()]
    resources += [fhir.audit_event(e) for e in me.access_log()]
    resources += [fhir.provenance(i) for i in me.inferences_of()]
    bundle = fhir.bundle(resources)
    return Response(
        json.dumps(bundle, indent=2),
        mimetype="application/fhir+json",
        headers={"Content-Disposition": f'attachment; filename="careledger-{patient_id}.json"'},
    )


@bp.route("/records/<record_id>/erase", methods=["POST"])
@login_required
def erase(record_id: str) -> WerkzeugResponse | tuple[str, int]:
    if request.form.get("confirm") != "erase":
        return render_template("error.html", title="Not erased", reason="Type erase to confirm."), 400
    current_session().erase(record_id)
    flash(f"Record {record_id} erased: its keys and ciphertext are destroyed.")
    return redirect(url_for("main.home"))


def create_app(test_config: dict[str, Any] | None = None) -> Any:
    """The consent portal. Config: PROFILES {org: connection profile}, GRANTEE_ORGS (MSP ids listed as
    grantees); OPEN_SESSION (org, user, passphrase) -> session replaces the ledger session, for tests."""
    app = base_app("portal", TEMPLATES, test_config)
    app.config.setdefault("ROLES", ["patient"])
    profiles = {k: Path(v) for k, v in app.config["PROFILES"].items()}
    app.config.setdefault("ORGS", sorted(profiles))

    def open_session(org: str, user: str, passphrase: bytes) -> Session:
        return Session.open(profiles[org], user, passphrase, require_passphrase=True)

    app.extensions["careledger.sessions"] = SessionStore(app.config.get("OPEN_SESSION", open_session))
    app.extensions["careledger.event_readers"] = EventReaders(app.config.get("EVENT_READER", "event-reader"))
    app.register_blueprint(_auth.bp)
    app.register_blueprint(bp)
    return app
