"""The hospital app: clinicians and researchers of one hospital.

Pages: patients who granted me or my hospital access; a patient's records; opening one (access request
→ decrypt → readable view); creating a record (form or FHIR JSON upload); emergency access with a
required justification; running an approved model on selected authorized records, with per-feature
contributions; the audit view.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from careledger.fhir import FHIRError
from careledger.services import OpenedRecord, Session
from careledger_models.runner import ModelRunner
from careledger_protocol import MIN_JUSTIFICATION_LETTERS, PURPOSES, Grant, Purpose, valid_justification
from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from werkzeug.wrappers.response import Response

from . import _auth, fhir_api
from ._common import SessionStore, base_app, current_session, login_required

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
    records = me.records_of(patient_id)
    return render_template("hospital_patient.html", patient_id=patient_id, records=records)


@bp.route("/records/<record_id>/open", methods=["POST"])
@login_required
def open_record(record_id: str) -> str | tuple[str, int]:
    purpose = request.form.get("purpose", Purpose.TREATMENT)
    if purpose not in PURPOSES:
        return render_template("error.html", title="Bad request", reason="unknown purpose"), 400
    result = current_session().open_records([record_id], purpose)[0]
    if not isinstance(result, OpenedRecord):
        return render_template("error.html", title="Access refused", reason=result.reason), 403
    return render_template("record.html", record=result)


@bp.route("/emergency", methods=["GET", "POST"])
@login_required
def emergency() -> str | tuple[str, int]:
    if request.method == "GET":
        return render_template("hospital_emergency.html", error=None, min_letters=MIN_JUSTIFICATION_LETTERS)
    record_id = request.form.get("record_id", "").strip()
    justification = request.form.get("justification", "").strip()
    if not record_id or not valid_justification(justification):
        error = f"Give the record and a justification of at least {MIN_JUSTIFICATION_LETTERS} letters."
        return render_template("hospital_emergency.html", error=error, min_letters=MIN_JUSTIFICATION_LETTERS), 400
    result = current_session().open_records([record_id], emergency_justification=justification)[0]
    if not isinstance(result, OpenedRecord):
        return render_template("error.html", title="Emergency access gave no content", reason=result.reason), 403
    current_app.logger.warning(
        "emergency access by %s recorded on the ledger", current_session().user
    )  # no patient data
    return render_template("record.html", record=result, emergency=True)


@bp.route("/records/new", methods=["GET", "POST"])
@login_required
def new_record() -> str | Response | tuple[str, int]:
    if request.method == "GET":
        return render_template("hospital_new.html", error=None)
    patient_id = request.form.get("patient_id", "").strip()
    category = request.form.get("category", "").strip()
    upload = request.files.get("fhir")
    try:
        if upload and upload.filename:
            resource = json.loads(upload.read())
        else:
            quantity: dict[str, Any] = {"value": float(request.form.get("value", ""))}
            if unit := request.form.get("unit", "").strip():  # FHIR allows no empty strings
                quantity["unit"] = unit
            resource = {
                "resourceType": "Observation",
                "status": "final",
                "code": {"text": request.form.get("code", "").strip() or "Observation"},
                "valueQuantity": quantity,
            }
        record = current_session().create_record(patient_id, resource, category)
    except (ValueError, FHIRError) as exc:  # ledger refusals go to the error page (status and reason)
        return render_template("hospital_new.html", error=str(exc)), 400
    flash(f"Record {record['id']} created.")
    return redirect(url_for("main.patient", patient_id=patient_id))


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
    artifact = _find_artifact(current_session().model(model_id, version)["artifact_sha256"])
    if artifact is None:
        return render_template(
            "error.html", title="Model artifact not found", reason="This hospital has no copy of that model."
        ), 404
    runner = ModelRunner(current_session(), artifact, model_id, version)
    report = runner.run(record_ids or None)
    return render_template("hospital_results.html", report=report, features=runner.features)


def _find_artifact(sha256: str) -> Path | None:
    import hashlib

    for candidate in Path(current_app.config["MODEL_DIR"]).glob("*/model.json"):
        if candidate.parent.name.endswith(sha256[:12]) and hashlib.sha256(candidate.read_bytes()).hexdigest() == sha256:
            return candidate
    return None


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
    (org, user, passphrase) -> session replaces the ledger session, for tests without a network."""
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
    app.register_blueprint(fhir_api.bp)
    return app
