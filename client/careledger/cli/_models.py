"""`careledger model`: list, register, retire, approval policies. Approving needs the metrics reproduced, so
`model verify` (with `--approve`) and `model trace` come from the models package (careledger_models.cli)."""

from __future__ import annotations

import json
from typing import Any

import click

from ..services import Session
from ._base import Context, JsonFile, main, with_session


# -- models -------------------------------------------------------------------------------------------------------
@main.group()
def model() -> None:
    """The model registry."""


@model.command("list")
@click.option("--model-id", default="")
@with_session
def model_list(c: Context, s: Session, model_id: str) -> None:
    items = s.models(model_id)
    c.emit(
        items,
        lambda ms: (
            "\n".join(
                f"{m['model_id']}@{m['version']}  {m['status']:<10} auc={m['metrics'].get('auc', '-')}" for m in ms
            )
            or "no models"
        ),
    )


@model.command("register")
@click.option(
    "--card",
    type=JsonFile("object", "pass the card.json written with the model"),
    required=True,
    help="model card JSON (as models/ writes it)",
)
@with_session
def model_register(c: Context, s: Session, card: dict[str, Any]) -> None:
    c.emit(s.register_model(card), lambda m: f"registered {m['model_id']}@{m['version']}")


@model.command("retire")
@click.argument("model_id")
@click.argument("version")
@click.option("--reason", required=True)
@with_session
def model_retire(c: Context, s: Session, model_id: str, version: str, reason: str) -> None:
    c.emit(s.retire_model(model_id, version, reason), lambda m: f"retired {m['model_id']}@{m['version']}")


@model.command("use")
@click.argument("model_id")
@click.argument("version")
@with_session
def model_use(c: Context, s: Session, model_id: str, version: str) -> None:
    """A model version's use log: when and by whom it ran, and who verified its results (auditors, its researcher)."""
    c.emit({**s.model_use(model_id, version), "verifications": s.model_verifications(model_id, version)}, _use_text)


def _use_text(u: Any) -> str:
    period = f"from {u['first_use']} to {u['last_use']}" if u["inferences"] else "never run"
    reviews = f"{u['reviewed']} reviewed ({u['confirmed']} confirmed, {u['overridden']} overridden)"
    lines = [f"{u['model_id']}@{u['version']} ({u['status']}): {u['inferences']} inferences {period}; {reviews}"]
    lines += [f"  run by {x['member_id']}: {x['inferences']}" for x in u["users"]]
    lines += [f"  {v['time']}  {v['inference_id']}  {v['decision']} by {v['reviewer']}" for v in u["verifications"]]
    return "\n".join(lines)


@model.command("performance")
@click.argument("model_id")
@click.argument("version")
@with_session
def model_performance(c: Context, s: Session, model_id: str, version: str) -> None:
    """A model version's live performance from recorded outcomes, and its monitoring bounds (auditors, its
    researcher)."""
    c.emit(s.model_performance(model_id, version), _performance_text)


def _live_text(live: Any) -> str:
    metrics = ", ".join(f"{k}={v}" for k, v in sorted(live["metrics"].items()))
    return f"{live['outcomes']} outcomes" + (f": {metrics}" if metrics else "")


def _performance_text(p: Any) -> str:
    bounds = f"approval policy v{p['policy_version']}: {json.dumps(p['monitoring'], sort_keys=True)}"
    lines = [
        f"{p['model_id']}@{p['version']} ({p['task']}, {p['status']}); monitored under "
        + (bounds if p["policy_version"] else "no approval policy")
    ]
    if p["unmonitored"]:
        lines.append(f"  not computed live, so never checked: {', '.join(p['unmonitored'])}")
    for title, window in ((f"since approval at {p['approved_at']}", "since_approval"), ("all time", "all_time")):
        lines.append(f"  {title}: {_live_text(p[window]['overall'])}")
        lines += [f"    {g}: {_live_text(live)}" for g, live in p[window]["subgroups"].items()]
    if "suspended_reason" in p:
        lines.append(f"  suspended at {p['suspended_at']}: {p['suspended_reason']}")
    return "\n".join(lines)


@model.group("policy")
def policy() -> None:
    """Approval policies: what a model's versions must show to be approved and to stay in use."""


@policy.command("set")
@click.argument("policy_file", type=JsonFile("object", "see careledger_models/policies.py for the fields"))
@with_session
def policy_set(c: Context, s: Session, policy_file: dict[str, Any]) -> None:
    """Set a model's approval policy from a JSON file, as its next version (auditors of the health authority)."""
    c.emit(s.set_approval_policy(policy_file), lambda p: f"approval policy of {p['model_id']} is now v{p['version']}")


@policy.command("show")
@click.argument("model_id")
@click.option("--version", type=click.IntRange(min=1), default=None, help="an earlier version (default: the current)")
@with_session
def policy_show(c: Context, s: Session, model_id: str, version: int | None) -> None:
    c.emit(s.approval_policy(model_id, version), _policy_text)


def _policy_text(p: Any) -> str:
    bounds = [f"{k} >= {v}" for k, v in p["min_metrics"].items()] + [f"{k} <= {v}" for k, v in p["max_metrics"].items()]
    gaps = [f"{k} gap <= {v}" for k, v in p["max_subgroup_gap"].items()]
    return "\n".join(
        [
            f"{p['model_id']} approval policy v{p['version']} (set by {p['set_by']} at {p['set_at']})",
            f"  overall: {', '.join(bounds) or 'no bound'}",
            f"  subgroups: {', '.join(p['required_subgroups']) or 'none required'} (>= {p['min_subgroup_n']} rows each)"
            f"; {', '.join(gaps) or 'no gap bound'}",
            f"  in use: {json.dumps(p['monitoring'], sort_keys=True)}",
        ]
    )


# -- inferences ---------------------------------------------------------------------------------------------------
@main.group()
def inference() -> None:
    """Model runs recorded on the ledger, each named <transaction id>:<n>."""


@inference.command("list")
@click.option("--record", "record_id", default=None, help="the inferences on one record (default: on your records)")
@click.option("--patient", default=None, help="a patient's inferences (auditors)")
@with_session
def inference_list(c: Context, s: Session, record_id: str | None, patient: str | None) -> None:
    items = s.inferences_on(record_id) if record_id else s.inferences_of(patient)
    c.emit(
        items,
        lambda rows: (
            "\n".join(
                f"{i['tx_id']}:{i['n']}  {i['time']}  {i['model_id']}@{i['version']} on {i['record_id']}: "
                + (json.dumps(i.get("output"), sort_keys=True) if i.get("output") is not None else "output erased")
                for i in rows
            )
            or "no inferences"
        ),
    )


@inference.command("review")
@click.argument("name")
@click.option("--confirm", is_flag=True, help="the result stands")
@click.option("--override", type=float, default=None, help="your own result instead: the class 0 or 1, or the value")
@click.option("--reason", required=True, help="why, in at least 20 letters (kept private; erasure purges it)")
def inference_review(name: str, confirm: bool, override: float | None, reason: str) -> None:
    """Confirm or override an inference (NAME: <transaction id>:<n>), saying why; reviewing again is allowed, the
    latest review decides (clinicians who may see the record)."""
    if confirm == (override is not None):
        raise click.UsageError("give either --confirm or --override VALUE")
    _review(name, override, reason)


_DONE = {"confirm": "confirmed", "override": "overridden"}


@with_session
def _review(c: Context, s: Session, name: str, override: float | None, reason: str) -> None:
    c.emit(
        s.review_inference(name, reason, override),
        lambda r: f"{r['inference_id']} {_DONE[r['decision']]} by {r['reviewer']} (the reason is kept private)",
    )


@inference.command("reviews")
@click.argument("name")
@with_session
def inference_reviews(c: Context, s: Session, name: str) -> None:
    """The reviews of an inference, and whether its outcome is recorded."""
    c.emit(s.inference_reviews(name), _reviews_text)


def _reviews_text(r: Any) -> str:
    lines = [f"{r['inference_id']}: {r['status']}"]
    for v in r["reviews"]:
        said = f": {v['reason']}" if v.get("reason") else ""
        result = f" (result {v['override']})" if v.get("override") is not None else ""
        lines.append(f"  {v['time']}  {v['decision']} by {v['reviewer']}{result}{said}")
    if "outcome" in r:
        lines.append(f"  outcome recorded at {r['outcome']['time']} by {r['outcome']['recorded_by']}")
    return "\n".join(lines)
