"""The patient consent portal.

Pages: my records; grant access (a member or an organization; categories or records; purposes;
expiry) and revoke it; the live access log (chaincode events pushed to the page, emergency accesses
highlighted); models run on my data and their results; export of my consents and access trail as FHIR;
erasure of a record. Revoking and erasing ask first, on a page of their own (no script needed); a form
with a problem comes back as it was sent, each problem said next to its field (_forms, _messages).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from careledger import fhir
from careledger.consent_import import ConsentNotExpressible, grants_from_consent
from careledger.errors import ChaincodeRefusal, GatewayError, IdentityError, NotFoundError
from careledger.fhir import FHIRError
from careledger.services import Session
from careledger_protocol import Grant, Record
from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers.response import Response as WerkzeugResponse

from . import _auth, _proxy_pages, portal_mine, portal_requests
from ._common import SessionStore, base_app, current_session, login_required
from ._display import org_label_in, people, person_label
from ._forms import Form, latest_day, read_consent_upload, read_grant, today_utc
from ._live import EventReaders, LiveLog
from .portal_mine import home_context, log_page

bp = Blueprint("main", __name__)
logger = logging.getLogger(__name__)
TEMPLATES = Path(__file__).parent / "templates"


@bp.route("/")
@login_required
def home() -> str:
    return render_template("portal_home.html", **home_context())  # records named, notifications (portal_mine)


@bp.route("/grants")
@login_required
def grants() -> str:
    return _grants_page(Form("grant"), Form("import"))[0]


def _grants_page(grant_form: Form, import_form: Form) -> tuple[str, int]:
    """The access page with its two forms as sent (a problem shows them again, filled in as they were)."""
    me = current_session()
    records = me.my_records()
    categories = sorted({r["category"] for r in records if r["status"] == "active"})
    grantees = []
    for org in current_app.config["GRANTEE_ORGS"]:  # who is a patient where is not for patients to list
        for role in ("clinician", "researcher", "organization"):
            grantees += me.members_of(org, role)
    today = today_utc()
    page = render_template(
        "portal_grants.html",
        grants=me.grants_of(),
        records=records,
        categories=categories,
        grantees=grantees,
        form=grant_form,
        import_form=import_form,
        first_day=today.isoformat(),
        last_day=latest_day(today).isoformat(),
    )
    return page, (grant_form.status if not grant_form.ok else import_form.status if not import_form.ok else 200)


@bp.route("/grants", methods=["POST"])
@login_required
def grant() -> WerkzeugResponse | tuple[str, int]:
    form = Form("grant", request.form.copy())
    choice = read_grant(form, today_utc())
    if choice is None:
        return _grants_page(form, Form("import"))
    try:
        grant = current_session().grant(
            choice.grantee, choice.purposes, choice.valid_until, choice.record_ids, choice.categories
        )
    except ChaincodeRefusal as exc:  # in words, by its type, with the form as it was sent
        form.refused(exc)
        return _grants_page(form, Form("import"))
    flash(f"Access granted to {person_label(grant['grantee'])} until {choice.last_day.day} {choice.last_day:%B %Y}.")
    return redirect(url_for("main.grants"))


@bp.route("/grants/import", methods=["POST"])
@login_required
def import_consent() -> WerkzeugResponse | tuple[str, int]:
    """A FHIR Consent uploaded by the patient: read whole (grants_from_consent), then granted."""
    form = Form("import")
    resource = read_consent_upload(form, request.files.get("consent"))
    if resource is None:
        return _grants_page(Form("grant"), form)
    me = current_session()
    try:
        requests = grants_from_consent(resource, me.member_id())
    except ConsentNotExpressible as exc:  # valid FHIR asking what a grant cannot say: its message says what
        form.errors["consent"] = f"Nothing was granted: {exc}."
        return _grants_page(Form("grant"), form)
    except FHIRError as exc:
        form.problem("consent", "consent.not_fhir")
        form.details = str(exc)
        return _grants_page(Form("grant"), form)
    made = 0
    try:
        for r in requests:
            me.grant(r.grantee, list(r.purposes), r.valid_until, list(r.record_ids) or None, list(r.categories) or None)
            made += 1
    except ChaincodeRefusal as exc:
        form.refused(exc)
        if made:
            form.general = f"{made} of the {len(requests)} grants were made before the ledger refused the next one."
        return _grants_page(Form("grant"), form)
    flash(f"{len(requests)} grant(s) made from the consent document.")
    return redirect(url_for("main.grants"))


def _grant_of(grant_id: str) -> Grant:
    found = next((g_ for g_ in current_session().grants_of() if g_["id"] == grant_id), None)
    if found is None:
        raise NotFoundError(f"no grant {grant_id} of yours")
    return found


@bp.route("/grants/<grant_id>/revoke", methods=["GET", "POST"])
@login_required
def revoke(grant_id: str) -> WerkzeugResponse | str:
    """GET asks for confirmation (a page, so it works without JavaScript); the POST from it revokes."""
    grant = _grant_of(grant_id)
    if grant["status"] != "active":
        flash(f"The access of {grant['grantee']} was already revoked.")
        return redirect(url_for("main.grants"))
    if request.method == "GET" or request.form.get("confirm") != "revoke":
        return render_template("portal_revoke.html", grant=grant, form=Form("revoke", request.form.copy()))
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
    return log_page()  # in plain words, with filters and pages (portal_mine, _access_words)


@bp.route("/log/stream")
@login_required
def log_stream() -> Response:
    """Server-sent events: this patient's access decisions and inferences as they are committed."""
    me = current_session()
    patient_id = me.member_id()
    readers: EventReaders = current_app.extensions["careledger.event_readers"]
    profile, channel, chaincode = me.profile_path, me.contract.network.name, me.contract.chaincode
    seconds = float(current_app.config.get("STREAM_SECONDS", 300))

    known, org_names = people(), current_app.config.get("ORG_NAMES", {})  # read now: the stream outlives the request

    def name(member_id: str) -> str:
        found = known.get(member_id)
        return found.display_name if found is not None else member_id

    def events() -> Iterator[str]:
        live = LiveLog(patient_id, name=name, org_name=lambda msp: org_label_in(org_names, msp))
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
    inferences = me.inferences_of()
    # A model that ran on my data and is no longer in use (suspended, retired, recalled) is said at the top.
    versions = sorted({(i["model_id"], i["version"]) for i in inferences})
    withdrawn = [m for m in (me.model(*v) for v in versions) if m["status"] != "approved"]
    return render_template("portal_models.html", inferences=inferences, withdrawn=withdrawn)


@bp.route("/models/<inference_id>")
@login_required
def model_card(inference_id: str) -> str:
    """A model run on one of my records: the model, its approval and validation (for people like me), the
    result explained, and the trail as the ledger checked it."""
    from careledger_models.card import model_card as card_of

    return render_template("portal_model_card.html", card=card_of(current_session(), inference_id))


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


def _record_of(record_id: str) -> Record:
    found = next((r for r in current_session().my_records() if r["id"] == record_id), None)
    if found is None:
        raise NotFoundError(f"no record {record_id} of yours")
    return found


@bp.route("/records/<record_id>/erase", methods=["GET", "POST"])
@login_required
def erase(record_id: str) -> WerkzeugResponse | str | tuple[str, int]:
    """GET asks for confirmation (a required box to tick); the POST from it erases."""
    record = _record_of(record_id)
    form = Form("erase", request.form.copy() if request.method == "POST" else MultiDict())
    if request.method == "GET":
        return render_template("portal_erase.html", record=record, form=form)
    if form.value("confirm") != "erase":
        form.problem("confirm", "confirm.erase")
        return render_template("portal_erase.html", record=record, form=form), 400
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
    app.register_blueprint(portal_mine.bp)
    app.register_blueprint(portal_requests.bp)  # requests for access, and emergency accesses with their review
    app.register_blueprint(_proxy_pages.bp)  # people who can act for me, and acting for someone
    portal_mine.use_directory(app)  # names (DIRECTORY_DIR), titles read, last-seen markers (SEEN_FILE)
    return app
