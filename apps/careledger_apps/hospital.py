"""The hospital app: clinicians and researchers of one hospital.

Pages: patients who granted me or my hospital access; a patient's records; opening one (access request
→ decrypt → readable view); creating a record (form or FHIR JSON upload); emergency access with a
required justification; running an approved model on selected authorized records, with per-feature
contributions; the audit view.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from careledger.errors import ChaincodeRefusal, UploadPendingError
from careledger.fhir import FHIRError
from careledger.services import OpenedRecord, Refused, Session
from careledger_models.runner import ModelRunner
from careledger_protocol import MIN_JUSTIFICATION_LETTERS, PURPOSES, Grant, Purpose
from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers.response import Response

from . import _auth, _releaser, fhir_api, hospital_patients, hospital_requests
from ._artifacts import find_artifact
from ._common import SessionStore, base_app, current_session, login_required
from ._forms import Form, read_emergency, read_new_record
from ._messages import ACCESS_REFUSED, EMERGENCY_REFUSED, UNKNOWN_PURPOSE
from ._pages import error_page
from .hospital_patients import patient_context
from .hospital_requests import refused_page

bp = Blueprint("main", __name__)
TEMPLATES = Path(__file__).parent / "templates"


@bp.route("/")
@login_required
def home() -> str:
    me = current_session()
    grants = me.grants_to_me()
    patients: dict[str, list[Grant]] = {}
    for grant in grants:
        if grant["status"] == "active":
            patients.setdefault(grant["patient_id"], []).append(grant)
    return render_template("hospital_home.html", patients=patients)


@bp.route("/patients/<patient_id>")
@login_required
def patient(patient_id: str) -> str:
    me = current_session()
    patient_id = me.qualify(patient_id)  # a bare id names a patient of this hospital
    return render_template("hospital_patient.html", **patient_context(patient_id))


@bp.route("/records/<record_id>/open", methods=["POST"])
@login_required
def open_record(record_id: str) -> str | tuple[str, int]:
    purpose = request.form.get("purpose", Purpose.TREATMENT)
    if purpose not in PURPOSES:
        return error_page(UNKNOWN_PURPOSE)
    result = current_session().open_records([record_id], purpose)[0]
    if not isinstance(result, OpenedRecord):  # the ledger's decision, in its words, with the ways on
        return refused_page(ACCESS_REFUSED, result.reason, record_id, purpose, request.form.get("patient_id", ""))
    return render_template("record.html", record=result)


@bp.route("/emergency", methods=["GET", "POST"])
@login_required
def emergency() -> str | tuple[str, int]:
    form = Form("emergency", request.form.copy() if request.method == "POST" else MultiDict())
    if request.method == "GET":
        return _emergency_page(form)
    asked = read_emergency(form)
    if asked is None:
        return _emergency_page(form), 400
    record_id, justification = asked
    try:
        opening = current_session().break_glass([record_id], justification)
    except ChaincodeRefusal as exc:  # in words, by its type, with the form as it was sent
        form.refused(exc)
        return _emergency_page(form), form.status
    result = opening.items[0]
    if isinstance(result, Refused) and result.awaiting_custodian:  # another hospital holds it: it releases the key
        return render_template("hospital_emergency_result.html", opening=opening, patient_id=None)
    if not isinstance(result, OpenedRecord):
        return error_page(EMERGENCY_REFUSED, reason=result.reason)
    current_app.logger.warning(
        "emergency access by %s recorded on the ledger", current_session().user
    )  # no patient data
    return render_template("record.html", record=result, emergency=True)


def _emergency_page(form: Form) -> str:
    return render_template("hospital_emergency.html", form=form, min_letters=MIN_JUSTIFICATION_LETTERS)


@bp.route("/records/new", methods=["GET", "POST"])
@login_required
def new_record() -> str | Response | tuple[str, int]:
    if request.method == "GET":
        return render_template("hospital_new.html", form=Form("record", MultiDict({"category": "laboratory"})))
    form = Form("record", request.form.copy())
    asked = read_new_record(form, request.files.get("fhir"))
    if asked is None:
        return render_template("hospital_new.html", form=form), 400
    try:
        record = current_session().create_record(asked.patient_id, asked.resource, asked.category)
    except FHIRError as exc:  # what is wrong, for whoever fixes the file, folded away
        if asked.uploaded:
            form.problem("fhir", "fhir.not_fhir")
        else:
            form.problem("value", "record.not_fhir")
        form.details = str(exc)
        return render_template("hospital_new.html", form=form), 400
    except ChaincodeRefusal as exc:
        form.refused(exc)
        return render_template("hospital_new.html", form=form), form.status
    except UploadPendingError as exc:  # registered; its encrypted content waits in the upload outbox
        flash(
            f"Record {exc.record_id} created. Its encrypted content could not reach the record store yet: it is kept "
            "and uploaded automatically."
        )
        return redirect(url_for("main.patient", patient_id=asked.patient_id))
    flash(f"Record {record['id']} created.")
    return redirect(url_for("main.patient", patient_id=asked.patient_id))


@bp.route("/models")
@login_required
def models() -> str:
    approved = [m for m in current_session().models() if m["status"] == "approved"]
    return render_template("hospital_models.html", models=approved)


@bp.route("/models/run", methods=["POST"])
@login_required
def run_model() -> str | tuple[str, int]:
    model_id, version = request.form.get("model_id", ""), request.form.get("version", "")
    record_ids = [r.strip() for r in request.form.get("record_ids", "").split() if r.strip()]
    sha256 = current_session().model(model_id, version)["artifact_sha256"]
    artifact = find_artifact(Path(current_app.config["MODEL_DIR"]), sha256)
    if artifact is None:
        return render_template(
            "error.html", title="Model artifact not found", reason="This hospital has no copy of that model."
        ), 404
    runner = ModelRunner(current_session(), artifact, model_id, version)
    report = runner.run(record_ids or None)
    return render_template("hospital_results.html", report=report, features=runner.features)


@bp.route("/audit")
@login_required
def audit() -> str:
    me = current_session()
    requesters = [me.member_id()]
    if g.user.role == "admin":
        org = me.gateway.identity.msp_id
        staff = me.members_of(org, "clinician") + me.members_of(org, "researcher")
        requesters = [m["id"] for m in staff]
    events = [e for r in requesters for e in me.access_by(r)]
    events.sort(key=lambda e: e["time"], reverse=True)
    return render_template("audit.html", events=events[:500])


def create_app(test_config: dict[str, Any] | None = None) -> Any:
    """The hospital app of one organization. Config: PROFILE (connection profile), ORG_KEY_FROM (the
    wallet identity holding the organization key), MODEL_DIR (approved model artifacts); OPEN_SESSION
    (org, user, passphrase) -> session replaces the ledger session, for tests without a network; DIRECTORY_DIR
    (the consortium's directories, careledger.directory), ORG_NAMES {MSP: display name}, TIME_ZONE."""
    app = base_app("hospital", TEMPLATES, test_config)
    app.config.setdefault("ROLES", ["clinician", "researcher", "admin"])
    profile = Path(app.config["PROFILE"])
    app.config.setdefault("ORGS", [profile.stem])

    def open_session(org: str, user: str, passphrase: bytes) -> Session:
        return Session.open(
            profile, user, passphrase, org_key_from=app.config.get("ORG_KEY_FROM"), require_passphrase=True
        )

    app.extensions["careledger.sessions"] = SessionStore(app.config.get("OPEN_SESSION", open_session))
    app.register_blueprint(_auth.bp)
    app.register_blueprint(bp)
    app.register_blueprint(hospital_patients.bp)
    app.register_blueprint(hospital_requests.bp)  # asking patients, emergencies from a patient page, reviews
    _releaser.start(app)  # the org key's jobs: emergency releases, recovered keys' re-wraps (EMERGENCY_RELEASER)
    hospital_patients.use_directory(app)  # names from the hospital's directory (DIRECTORY_DIR)
    app.register_blueprint(fhir_api.bp)
    return app
