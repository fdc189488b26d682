"""The auditor app: the health authority's auditors.

Pages: model approvals (each registered version with its card: metrics overall and per subgroup, its
training run and the approval policy; approving reproduces the metrics from the artifact first, as
`careledger model verify --approve` does, and the ledger applies the policy); the whole access trail of the
consortium, or one patient's or one requester's (the ids are sent in a form, never in an address), checked
against the blocks as a background job; FHIR exports; and the emergency review queue (/emergencies).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from careledger import fhir
from careledger.errors import ChaincodeRefusal, NotFound
from careledger.ledger import Block, BlockReader, TrailReport, verify_trail
from careledger.services import Session
from careledger_models.verify import NotReproducible, approve_verified, verify
from careledger_protocol import ApprovalPolicy, AuditEvent, Model, is_member_id
from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers.response import Response as WerkzeugResponse

from . import _auth, _emergency_queue, _job_pages
from ._artifacts import find_artifact
from ._common import SessionStore, base_app, current_session, login_required
from ._forms import Form
from ._jobs import Job, JobBoard, JobRefused, explain_ledger
from ._messages import refusal_page

bp = Blueprint("main", __name__)
TEMPLATES = Path(__file__).parent / "templates"
PAGE_SIZE = 50
FILTERED_MAX = 500  # a patient's or a requester's trail, shown at once (a form's answer has no pages)


def _board() -> JobBoard[TrailReport]:
    board: JobBoard[TrailReport] = current_app.extensions["careledger.jobs"]
    return board


# -- model approvals ------------------------------------------------------------------------------------------
@bp.route("/")
@login_required
def home() -> str:
    models = current_session().models()
    waiting = [m for m in models if m["status"] == "registered"]
    others = sorted((m for m in models if m["status"] != "registered"), key=lambda m: m["registered_at"], reverse=True)
    return render_template("auditor_home.html", waiting=waiting, others=others)


def _policy(me: Session, model_id: str) -> ApprovalPolicy | None:
    try:
        return me.approval_policy(model_id)
    except NotFound:
        return None


def _model_page(model: Model, problem: str = "", details: str = "", mismatches: list[str] | None = None) -> str:
    me = current_session()
    return render_template(
        "auditor_model.html",
        model=model,
        policy=_policy(me, model["model_id"]),
        artifact=find_artifact(Path(current_app.config["MODEL_DIR"]), model["artifact_sha256"]),
        problem=problem,
        details=details,
        mismatches=mismatches or [],
    )


@bp.route("/models/<model_id>/<version>")
@login_required
def model(model_id: str, version: str) -> str:
    return _model_page(current_session().model(model_id, version))


@bp.route("/models/<model_id>/<version>/approve", methods=["POST"])
@login_required
def approve(model_id: str, version: str) -> WerkzeugResponse | tuple[str, int]:
    """Reproduce the registered metrics from the artifact, then approve on the ledger (which checks again and
    applies the approval policy). Every outcome is said on the model's page."""
    me = current_session()
    entry = me.model(model_id, version)
    if entry["status"] != "registered":
        flash(f"{model_id} version {version} is {entry['status']}: there is nothing to approve.")
        return redirect(url_for("main.model", model_id=model_id, version=version))
    artifact = find_artifact(Path(current_app.config["MODEL_DIR"]), entry["artifact_sha256"])
    if artifact is None:
        words = (
            "Not approved: the model's artifact is not in this app's model folder, so its metrics cannot be reproduced."
        )
        return _model_page(entry, words), 409
    try:
        verification = verify(me, model_id, version, artifact)
    except NotReproducible as exc:  # its message says what is missing, in words
        return _model_page(entry, f"Not approved: the metrics cannot be reproduced here. {exc}."), 409
    if not verification.reproduced:
        return _model_page(
            entry, "Not approved: the registered metrics do not reproduce.", "", verification.mismatches
        ), 409
    try:
        approved = approve_verified(me, verification)
    except ChaincodeRefusal as exc:  # the policy's verdict: its reason is for the auditor to read
        page = refusal_page(exc)
        return _model_page(entry, f"Not approved: {page.title}", exc.reason), page.status
    policy = approved.get("approval", {}).get("policy_version")
    flash(f"{model_id} version {version} approved" + (f" under approval policy version {policy}." if policy else "."))
    return redirect(url_for("main.model", model_id=model_id, version=version))


# -- the access trail -----------------------------------------------------------------------------------------
def _filtered(events: list[AuditEvent], decision: str, emergency: bool) -> list[AuditEvent]:
    return [
        e
        for e in events
        if (not decision or e["decision"] == decision) and (not emergency or e.get("emergency", False))
    ]


@bp.route("/trail")
@login_required
def trail() -> str:
    decision = request.args.get("decision", "") if request.args.get("decision") in ("allowed", "denied") else ""
    emergency = request.args.get("emergency") == "yes"
    events = _filtered(current_session().all_access(), decision, emergency)
    events.sort(key=lambda e: e["time"], reverse=True)
    pages = max(1, -(-len(events) // PAGE_SIZE))
    page = min(max(1, request.args.get("page", 1, type=int) or 1), pages)
    return render_template(
        "auditor_trail.html",
        events=events[(page - 1) * PAGE_SIZE : page * PAGE_SIZE],
        total=len(events),
        page=page,
        pages=pages,
        decision=decision,
        emergency=emergency,
        form=Form("whose"),
        jobs=_board().of(current_session().member_id(), "trail-check")[:5],
        shown="everyone",
    )


def read_whose(form: Form) -> tuple[str, str] | None:
    """(kind, member id) from the form that narrows the trail to one patient or one requester."""
    kind, member = form.value("kind"), form.value("member").strip()
    if kind not in ("patient", "requester"):
        form.problem("kind", "whose.kind")
    if not member:
        form.problem("member", "whose.missing")
    elif not is_member_id(member):
        form.problem("member", "whose.invalid")
    return (kind, member) if form.ok else None


@bp.route("/trail", methods=["POST"])
@login_required
def trail_of() -> str | tuple[str, int]:
    """One patient's or one requester's trail: the id comes in the form, so it stays out of addresses and logs."""
    form = Form("whose", request.form.copy())
    asked = read_whose(form)
    me = current_session()
    events: list[AuditEvent] = []
    if asked is not None:
        kind, member = asked
        try:
            events = me.access_log(member) if kind == "patient" else me.access_by(member)
        except ChaincodeRefusal as exc:  # e.g. no such member: said next to the field
            form.refused(exc)
    events.sort(key=lambda e: e["time"], reverse=True)
    page = render_template(
        "auditor_trail.html",
        events=events[:FILTERED_MAX],
        total=len(events),
        page=1,
        pages=1,
        decision="",
        emergency=False,
        form=form,
        jobs=_board().of(me.member_id(), "trail-check")[:5],
        shown=asked[0] if asked else "everyone",
    )
    return page, (200 if form.ok else form.status)


def _peer_blocks(me: Session) -> BlockReader:
    return BlockReader(me.gateway, me.contract.network.name)


class _Counting(BlockReader):
    """A block reader that tells the job how far it is."""

    def __init__(self, reader: BlockReader, job: Job[TrailReport]) -> None:
        self.reader, self.job = reader, job

    def height(self) -> tuple[int, bytes]:
        return self.reader.height()

    def blocks(self, start: int, stop: int, timeout: float = 60.0) -> Iterator[Block]:
        for block in self.reader.blocks(start, stop, timeout):
            self.job.report("reading and checking the blocks", block.number - start + 1, stop - start + 1)
            yield block


def check_trail(me: Session, job: Job[TrailReport], reader: BlockReader) -> TrailReport:
    """Check every event of the whole trail against the blocks: each committed VALID, and the hash chain whole
    up to the peer's head (careledger.ledger.verify_trail)."""
    job.report("reading the whole access trail")
    tx_ids = [e["tx_id"] for e in me.all_access(page_size=1000)]
    return verify_trail(reader, tx_ids)


@bp.route("/trail/check", methods=["POST"])
@login_required
def start_check() -> WerkzeugResponse:
    me = current_session()
    blocks = current_app.config.get("BLOCK_READER", _peer_blocks)  # session -> reader (tests give theirs)
    try:
        job = _board().start(
            me.member_id(),
            "trail-check",
            "Checking the whole access trail against the blocks",
            lambda j: check_trail(me, j, _Counting(blocks(me), j)),
        )
    except JobRefused as exc:
        flash(f"Not started: {exc}.")
        return redirect(url_for("main.trail"))
    return redirect(url_for("jobs.show", job_id=job.id))


# -- exports --------------------------------------------------------------------------------------------------
def _bundle_response(bundle: dict[str, Any], name: str) -> Response:
    return Response(
        json.dumps(bundle, indent=2),
        mimetype="application/fhir+json",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.route("/export")
@login_required
def export_page() -> str:
    return render_template("auditor_export.html", form=Form("export"))


@bp.route("/export/trail.json")
@login_required
def export_all() -> Response:
    """The whole access trail as FHIR AuditEvents (IHE BALP)."""
    events = current_session().all_access(page_size=1000)
    return _bundle_response(fhir.bundle(fhir.audit_event(e) for e in events), "careledger-access-trail.json")


@bp.route("/export", methods=["POST"])
@login_required
def export_patient() -> Response | tuple[str, int]:
    """One patient's consents (IHE PCF), access trail (IHE BALP) and model runs (Provenance), as the patient's
    own export from the portal has them."""
    form = Form("export", request.form.copy())
    patient = form.value("patient").strip()
    if not patient:
        form.problem("patient", "whose.missing")
    elif not is_member_id(patient):
        form.problem("patient", "whose.invalid")
    if not form.ok:
        return render_template("auditor_export.html", form=form), 400
    me = current_session()
    try:
        resources = [fhir.consent(g) for g in me.grants_of(patient)]
        resources += [fhir.audit_event(e) for e in me.access_log(patient)]
        resources += [fhir.provenance(i) for i in me.inferences_of(patient)]
    except ChaincodeRefusal as exc:
        form.refused(exc)
        return render_template("auditor_export.html", form=form), form.status
    # The file name says no more than "a patient's export": the id stays inside the file.
    return _bundle_response(fhir.bundle(resources), "careledger-patient-export.json")


def explain(exc: Exception) -> str | None:
    return explain_ledger(exc)


def create_app(test_config: dict[str, Any] | None = None) -> Any:
    """The auditor app of the health authority. Config: PROFILE (the authority's connection profile), MODEL_DIR
    (the model artifacts, to reproduce metrics before approving); OPEN_SESSION (org, user, passphrase) ->
    session replaces the ledger session, for tests without a network."""
    app = base_app("auditor", TEMPLATES, test_config)
    app.config.setdefault("ROLES", ["auditor"])
    profile = Path(app.config["PROFILE"])
    app.config.setdefault("ORGS", [profile.stem])

    def open_session(org: str, user: str, passphrase: bytes) -> Session:
        return Session.open(profile, user, passphrase, require_passphrase=True)

    app.extensions["careledger.sessions"] = SessionStore(app.config.get("OPEN_SESSION", open_session))
    app.extensions["careledger.jobs"] = JobBoard[TrailReport](explain)
    app.register_blueprint(_auth.bp)
    app.register_blueprint(bp)
    app.register_blueprint(_job_pages.bp)
    app.register_blueprint(_emergency_queue.bp)
    return app
