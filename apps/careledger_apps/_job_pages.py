"""A background job's page (shared by the researcher and auditor apps): its progress while it runs, its result
or its failure in words when it is over. Without JavaScript the page has a button to look again; with it
(static/job-progress.js) the page asks `/jobs/<id>/status` every two seconds and reloads when the job is over.
Each kind of job shows its result with its own template, `job_<kind>.html`."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, render_template
from werkzeug.wrappers.response import Response

from ._common import current_session, login_required
from ._jobs import Job
from ._messages import NO_SUCH_ITEM
from ._pages import error_page

bp = Blueprint("jobs", __name__)


def _job(job_id: str) -> Job[Any] | None:
    return current_app.extensions["careledger.jobs"].get(current_session().member_id(), job_id)  # type: ignore[no-any-return]


@bp.route("/jobs/<job_id>")
@login_required
def show(job_id: str) -> str | tuple[str, int]:
    job = _job(job_id)
    if job is None:
        return error_page(NO_SUCH_ITEM)
    return render_template("job.html", job=job)


@bp.route("/jobs/<job_id>/status")
@login_required
def status(job_id: str) -> Response | tuple[Response, int]:
    job = _job(job_id)
    if job is None:
        return jsonify({"state": "unknown"}), 404
    return jsonify({"state": job.state, "stage": job.progress.stage, "percent": job.progress.percent, "over": job.over})
