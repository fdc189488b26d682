"""The researcher app: researchers of every hospital.

Pages: the research cohort (how many consents and records, of which categories: counts only, see _cohort);
training a model on it (or on the public dataset the model ships with, which an auditor can reproduce) as a
background job whose progress the page shows (_jobs); the trained model's card, and registering it on the
ledger; the models this researcher registered, with their status in the registry.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from careledger.services import Session
from careledger_models.datasets import DATASETS
from careledger_models.runner import register
from careledger_models.train import CohortTooSmall, TrainedModel, train, train_on_cohort
from careledger_protocol import Model
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers.response import Response

from . import _auth, _job_pages
from ._cohort import dataset_category, summarize
from ._common import SessionStore, base_app, current_session, login_required
from ._forms import Form
from ._jobs import Job, JobBoard, JobRefused, explain_ledger
from ._messages import NO_SUCH_ITEM
from ._pages import error_page

bp = Blueprint("main", __name__)
TEMPLATES = Path(__file__).parent / "templates"
SOURCES = {
    "cohort": "the consented records (research consents on the ledger)",
    "public": "the public dataset the model ships with (auditors can reproduce its metrics)",
}
MAX_SEED = 2**31 - 1


@dataclass
class Training:
    """A finished training job: the model on disk with its card, and what it was trained on (counts only)."""

    trained: TrainedModel
    dataset: str
    source: str  # a key of SOURCES
    records: int  # rows trained and evaluated on
    skipped: int  # consented records that could not be used (not opened, or not fitting the schema)
    registered: Model | None = None


def _board() -> JobBoard[Any]:
    board: JobBoard[Any] = current_app.extensions["careledger.jobs"]
    return board


def explain(exc: Exception) -> str | None:
    """A training job's failure in words (the cohort's size is a count: nothing identifying)."""
    if isinstance(exc, CohortTooSmall):
        return f"The cohort is too small: {exc}. Train when more patients have consented to research."
    return explain_ledger(exc)


@bp.route("/")
@login_required
def home() -> str:
    return _home(Form("train", MultiDict({"dataset": sorted(DATASETS)[0], "source": "cohort", "seed": "7"})))[0]


def _home(form: Form) -> tuple[str, int]:
    me = current_session()
    page = render_template(
        "research_home.html",
        cohort=summarize(me),
        form=form,
        datasets={name: dataset_category(name) for name in sorted(DATASETS)},
        sources=SOURCES,
        max_seed=MAX_SEED,
        jobs=_board().of(me.member_id(), "training")[:10],
    )
    return page, (200 if form.ok else form.status)


def read_training(form: Form) -> tuple[str, str, int] | None:
    """(dataset, source, seed) from the training form, or None with its problems said on the form."""
    dataset, source, seed_text = form.value("dataset"), form.value("source"), form.value("seed").strip()
    if dataset not in DATASETS:
        form.problem("dataset", "dataset.missing")
    if source not in SOURCES:
        form.problem("source", "source.missing")
    seed = int(seed_text) if seed_text.isdigit() and len(seed_text) <= 10 else -1
    if not 0 <= seed <= MAX_SEED:
        form.problem("seed", "seed.invalid", most=MAX_SEED)
    return (dataset, source, seed) if form.ok else None


@bp.route("/train", methods=["POST"])
@login_required
def start_training() -> Response | tuple[str, int]:
    form = Form("train", request.form.copy())
    asked = read_training(form)
    if asked is None:
        return _home(form)
    dataset_name, source, seed = asked
    me = current_session()  # the job runs with this session, on its own thread
    model_dir = Path(current_app.config["MODEL_DIR"])

    def work(job: Job[Training]) -> Training:
        dataset = DATASETS[dataset_name]()
        if source == "cohort":
            trained, used = train_on_cohort(me, dataset, seed=seed, out_dir=model_dir, progress=job.report)
            return Training(trained, dataset_name, source, len(used["records"]), len(used["skipped"]))
        job.report("training the model")
        return Training(train(dataset, seed=seed, out_dir=model_dir), dataset_name, source, len(dataset.frame), 0)

    try:
        job = _board().start(me.member_id(), "training", f"Training {dataset_name} on {SOURCES[source]}", work)
    except JobRefused as exc:
        form.general = f"Not started: {exc}."
        form.status = 409
        return _home(form)
    return redirect(url_for("jobs.show", job_id=job.id))


@bp.route("/jobs/<job_id>/register", methods=["POST"])
@login_required
def register_model(job_id: str) -> Response | tuple[str, int]:
    """Register a finished training's model on the ledger (the same artifact keeps its version)."""
    me = current_session()
    job = _board().get(me.member_id(), job_id)
    if job is None or job.kind != "training" or not isinstance(job.result, Training):
        return error_page(NO_SUCH_ITEM)
    entry = register(me, job.result.trained)  # a ledger refusal is shown in words by the app's error page
    job.result.registered = entry
    flash(f"{entry['model_id']} version {entry['version']} is registered; it is {entry['status']}.")
    return redirect(url_for("main.models"))


@bp.route("/models")
@login_required
def models() -> str:
    me = current_session()
    mine = [m for m in me.models() if m["registered_by"] == me.member_id()]
    mine.sort(key=lambda m: m["registered_at"], reverse=True)
    return render_template("research_models.html", models=mine)


def create_app(test_config: dict[str, Any] | None = None) -> Any:
    """The researcher app. Config: PROFILES {org: connection profile} (the hospitals whose researchers sign
    in), MODEL_DIR (where trained artifacts and their cards are written; the hospital and auditor apps read
    the same folder); OPEN_SESSION (org, user, passphrase) -> session replaces the ledger session, for tests."""
    app = base_app("research", TEMPLATES, test_config)
    app.config.setdefault("ROLES", ["researcher"])
    profiles = {k: Path(v) for k, v in app.config["PROFILES"].items()}
    app.config.setdefault("ORGS", sorted(profiles))

    def open_session(org: str, user: str, passphrase: bytes) -> Session:
        return Session.open(profiles[org], user, passphrase, require_passphrase=True)

    app.extensions["careledger.sessions"] = SessionStore(app.config.get("OPEN_SESSION", open_session))
    app.extensions["careledger.jobs"] = JobBoard[Training](explain)
    app.register_blueprint(_auth.bp)
    app.register_blueprint(bp)
    app.register_blueprint(_job_pages.bp)
    return app
