"""The `careledger` commands that run models or read records with them: `model verify` (and approve what
reproduced), `model trace`, `inference verify` and `inference outcome`. Loaded by `careledger` through the
`careledger.cli` entry point; XGBoost is imported only when a command runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from careledger.cli._base import EXIT_INTEGRITY, Context, with_session
from careledger.cli._models import inference, model
from careledger.services import Session

ARTIFACT = click.Path(exists=True, dir_okay=False, path_type=Path)


@model.command("verify")
@click.argument("model_id")
@click.argument("version")
@click.option("--artifact", type=ARTIFACT, required=True, help="the model file (model.json written with the card)")
@click.option("--approve", is_flag=True, help="approve the version on the ledger when every metric reproduced")
@with_session
def model_verify(c: Context, s: Session, model_id: str, version: str, artifact: Path, approve: bool) -> None:
    """Recompute a registered model's metrics from its artifact and evaluation data, and compare."""
    from .verify import approve_verified, verify

    verification = verify(s, model_id, version, artifact)
    result: dict[str, Any] = {
        "model_id": model_id,
        "version": version,
        "reproduced": verification.reproduced,
        "mismatches": verification.mismatches,
        "reproduction": verification.reproduction,
    }
    if approve:
        result["approved"] = approve_verified(s, verification)
    c.emit(result, _verify_text)


def _verify_text(result: dict[str, Any]) -> str:
    metrics = result["reproduction"]["metrics"]
    lines = [
        f"{result['model_id']}@{result['version']}: "
        + ("every registered metric reproduced" if result["reproduced"] else "the registered metrics do NOT reproduce"),
        "  recomputed: " + ", ".join(f"{k}={v}" for k, v in sorted(metrics.items())),
        *(f"  differs: {m}" for m in result["mismatches"]),
    ]
    if "approved" in result:
        approval = result["approved"]["approval"]
        lines.append(f"  approved under approval policy v{approval['policy_version']}")
    return "\n".join(lines)


@model.command("trace")
@click.argument("inference_id")
@click.option("--artifact", type=ARTIFACT, default=None, help="the model file, to check it (and its cohort.json)")
@with_session
def model_trace(c: Context, s: Session, inference_id: str, artifact: Path | None) -> None:
    """Walk an inference (<transaction id>:<n>) back to its model, approval, access, consent and training run."""
    from .tracing import trace

    report = trace(s, inference_id, artifact)
    c.emit(
        {"holds": report.holds, "checks": [vars(check) for check in report.checks], "ledger": report.ledger},
        lambda _: report.text(),
    )
    if not report.holds:
        raise SystemExit(EXIT_INTEGRITY)


@inference.command("verify")
@click.argument("inference_id")
@click.option("--artifact", type=ARTIFACT, required=True, help="the model file the inference names")
@with_session
def inference_verify(c: Context, s: Session, inference_id: str, artifact: Path) -> None:
    """Re-run a recorded inference on its record and compare with the ledger (output, input and explanation)."""
    from .replay import replay

    result = replay(s, inference_id, artifact)
    c.emit(
        {"matches": result.matches, "mismatches": result.mismatches, "output": result.rerun.output},
        lambda r: (
            (f"{inference_id}: the re-run gives the recorded output {r['output']}, input and explanation")
            if r["matches"]
            else f"{inference_id}: MISMATCH\n" + "\n".join(f"  {m}" for m in r["mismatches"])
        ),
    )
    if not result.matches:
        raise SystemExit(EXIT_INTEGRITY)


@inference.command("outcome")
@click.argument("name")
@click.option("--value", type=float, required=True, help="the truth: the class 0 or 1, or the true value")
@click.option(
    "--subgroup",
    "subgroups",
    multiple=True,
    help="a subgroup of the model the patient is in (default: worked out from the record by the model's rules)",
)
@with_session
def inference_outcome(c: Context, s: Session, name: str, value: float, subgroups: tuple[str, ...]) -> None:
    """Record the ground truth of an inference, once (clinicians who may see the record); it counts in the
    model's live performance, which suspends the model when it crosses its monitoring bounds. The patient's
    subgroups are read from the record version the model saw, by the rules registered with the model."""
    from .card import record_subgroups

    truth: float = int(value) if value.is_integer() else value
    groups = [g for g in subgroups if g != "none"]
    if not subgroups:
        trace = s.trace_inference(name)
        inference, rules = trace["inference"], trace["model"].get("training", {}).get("subgroups", [])
        found = record_subgroups(s, inference["record_id"], inference["ciphertext_sha256"], rules)
        if found is None:
            raise click.UsageError(
                "you cannot open the record version this inference ran on, so its subgroups cannot be worked "
                "out: name them with --subgroup (or record no subgroup with --subgroup none)"
            )
        groups = found
    c.emit({**s.record_outcome(name, truth, groups), "subgroups": groups}, _outcome_text)


def _outcome_text(r: Any) -> str:
    o = r["outcome"]
    said = f"outcome of {o['inference_id']} recorded; {o['model_id']}@{o['version']} is {r['model_status']}"
    said += f"\n  counted for the subgroups: {', '.join(r['subgroups']) or 'none'}"
    return said + (f"\nSUSPENDED: {r['suspended_reason']}" if "suspended_reason" in r else "")
