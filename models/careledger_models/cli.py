"""The `careledger` commands that run models: `model verify` (and approve what reproduced), `model trace` and
`inference verify`. Loaded by `careledger` through the `careledger.cli` entry point; XGBoost is imported only
when a command runs."""

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
