"""The live performance of models in use, from the outcomes clinicians record (oversight.py), the checks against
the approval policy's `monitoring` bounds, and what erasing a record takes back.

Each model version has one private entry (PERFORMANCE, (model_id, version)) of counts and sums, so that its
metrics follow each outcome without reading the outcomes again: for classification, accuracy (the predicted
class is 1 when the probability is at least 0.5, as the training code scores it) and the Brier score; for
regression, MAE and RMSE; overall and for each of the model's subgroups. It keeps them twice: over every
outcome, and over the outcomes recorded since the model's latest approval, which the checks judge (a
re-approved model is judged afresh). Private, not public: aggregates per subgroup in public state would give
away a patient's outcome and subgroups by difference between two transactions.

Every outcome reads and writes that entry, so two outcomes of one model version endorsed on the same state
conflict (MVCC) and the client retries one; inference batches, which run in parallel, never touch it.

Erasing a record purges the private part of its inferences' reviews and outcomes, and takes the outcomes out
of the live performance (each outcome keeps its contribution, privately, for that).
"""

from __future__ import annotations

import math
from typing import Any

from ...runtime import Context
from ._state import PRIVATE, get_private, load, purge_private, put_private

# (patient, record, inference time, inference tx, n, review time, review tx): a review; its reason is private
# under the same key.
REVIEW = "inference-review"
REVIEW_BY_MODEL = "inference-review-model"  # (model_id, version, time, tx) -> who verified which result, how
# (patient, record, inference time, inference tx, n): that an outcome was recorded; the outcome is private.
OUTCOME = "inference-outcome"
PERFORMANCE = "model-performance"  # private (model_id, version) -> the live counts and sums
LIVE_METRICS = {"classification": ("accuracy", "brier"), "regression": ("mae", "rmse")}

Tally = dict[str, Any]  # {"n": outcomes, "sums": {name: sum}}
Window = dict[str, Any]  # {"overall": Tally, "subgroups": {name: Tally}} (+ "approved_at" since an approval)


def contribution(task: str, output: dict[str, Any], truth: float) -> dict[str, float]:
    """What one outcome adds to the sums: the model's output on the record against the truth."""
    if task == "classification":
        probability = float(output["probability"])
        return {"correct": float((probability >= 0.5) == (truth == 1)), "brier": (probability - truth) ** 2}
    error = float(output["prediction"]) - truth
    return {"abs": abs(error), "sq": error * error}


def metrics(task: str, tally: Tally) -> dict[str, float]:
    n, sums = tally["n"], tally["sums"]
    if not n:
        return {}
    if task == "classification":
        return {"accuracy": round(sums["correct"] / n, 6), "brier": round(sums["brier"] / n, 6)}
    return {"mae": round(sums["abs"] / n, 6), "rmse": round(math.sqrt(max(sums["sq"], 0.0) / n), 6)}


def _window(approved_at: str | None = None) -> Window:
    window: Window = {"overall": {"n": 0, "sums": {}}, "subgroups": {}}
    if approved_at is not None:
        window["approved_at"] = approved_at
    return window


def performance(ctx: Context, model: dict[str, Any]) -> dict[str, Any]:
    """A model version's live performance entry, its window since approval started afresh when the model was
    approved after the entry was last written."""
    approved_at = model.get("approved_at", "")
    entry = get_private(ctx, PERFORMANCE, model["model_id"], model["version"]) or {
        "model_id": model["model_id"],
        "version": model["version"],
        "all_time": _window(),
        "since_approval": _window(approved_at),
    }
    if entry["since_approval"]["approved_at"] != approved_at:
        entry["since_approval"] = _window(approved_at)
    return entry


def count(entry: dict[str, Any], part: dict[str, float], subgroups: list[str], approved_at: str, sign: int) -> None:
    """Add (sign 1) or take back (-1) one outcome counted under the approval of `approved_at`."""
    windows = [entry["all_time"]]
    if entry["since_approval"]["approved_at"] == approved_at:
        windows.append(entry["since_approval"])
    for window in windows:
        window["overall"] = _add(window["overall"], part, sign)
        for group in subgroups:
            tally = _add(window["subgroups"].get(group), part, sign)
            if tally["n"]:
                window["subgroups"][group] = tally
            else:
                window["subgroups"].pop(group, None)


def _add(tally: Tally | None, part: dict[str, float], sign: int) -> Tally:
    tally = tally or {"n": 0, "sums": {}}
    n = tally["n"] + sign
    if n <= 0:
        return {"n": 0, "sums": {}}
    return {"n": n, "sums": {k: tally["sums"].get(k, 0.0) + sign * v for k, v in sorted(part.items())}}


def live(task: str, window: Window) -> dict[str, Any]:
    """A window as GetModelPerformance shows it (documents.LivePerformance)."""

    def shown(tally: Tally) -> dict[str, Any]:
        return {"outcomes": tally["n"], "metrics": metrics(task, tally)}

    return {
        "overall": shown(window["overall"]),
        "subgroups": {g: shown(t) for g, t in sorted(window["subgroups"].items())},
    }


def violations(task: str, window: Window, monitoring: dict[str, Any]) -> list[str]:
    """The monitoring bounds a window's live metrics cross, in words; a scope (overall, a subgroup) is judged
    only once it has at least `min_outcomes` outcomes."""
    least = monitoring.get("min_outcomes", 20)
    scopes = [("", window["overall"])] + [(f" of subgroup {g}", t) for g, t in sorted(window["subgroups"].items())]
    found = []
    for where, tally in scopes:
        if tally["n"] < least:
            continue
        values = metrics(task, tally)
        over = f"over {tally['n']} outcomes"
        for name, bound in sorted(monitoring.get("min_metrics", {}).items()):
            if name in values and values[name] < bound:
                found.append(f"live {name}{where} {values[name]} {over} is below the minimum {bound}")
        for name, bound in sorted(monitoring.get("max_metrics", {}).items()):
            if name in values and values[name] > bound:
                found.append(f"live {name}{where} {values[name]} {over} is above the maximum {bound}")
    return found


def unmonitored(task: str, monitoring: dict[str, Any]) -> list[str]:
    """The monitoring bounds on metrics the ledger does not compute live for this task (they are never checked)."""
    named = {*monitoring.get("min_metrics", {}), *monitoring.get("max_metrics", {})}
    return sorted(named - set(LIVE_METRICS.get(task, ())))


def purge_oversight(ctx: Context, patient_id: str, record_id: str) -> None:
    """Erasure: purge the private part of the reviews and outcomes of a record's inferences, and take those
    outcomes out of their models' live performance."""
    for review_key, _ in ctx.stub.get_state_by_partial_composite_key(REVIEW, [patient_id, record_id]):
        purge_private(ctx, review_key)
    rows = list(ctx.stub.get_state_by_partial_composite_key(OUTCOME, [patient_id, record_id]))
    if not rows:
        return
    taken: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for (outcome_key, public), private in zip(rows, ctx.stub.get_states([k for k, _ in rows], PRIVATE), strict=True):
        purge_private(ctx, outcome_key)
        if private:
            entry = load(public)
            taken.setdefault((entry["model_id"], entry["version"]), []).append(load(private))
    for (model_id, version), outcomes in taken.items():
        entry = get_private(ctx, PERFORMANCE, model_id, version)
        if entry is None:
            continue
        for outcome in outcomes:
            count(entry, outcome["contribution"], outcome["subgroups"], outcome["approved_at"], -1)
        put_private(ctx, entry, PERFORMANCE, model_id, version)
