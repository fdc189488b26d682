"""Re-running a recorded inference, as anyone entitled to its record can (`careledger inference verify`, the
patient's model card in the portal).

The record version the inference names is opened again (a new access decision, purpose diagnosis-ai, on the
ledger like any other), the registered artifact is run on it by the runner's own scoring function, and the
result is compared with what the ledger holds: the ciphertext the model saw, the input row's digest, the
explanation's digest and, when the replayer may read it, the output. Each difference is said in words.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from careledger.errors import CareLedgerError
from careledger.services import Refused, Session
from careledger_protocol import InferenceTrace, Purpose

from .scoring import Inference, ModelSpec, load_booster, score_sealed


class CannotReplay(CareLedgerError):
    """The inference cannot be re-run here: the message says why (no access, another artifact, ...)."""


@dataclass(frozen=True)
class Replay:
    trace: InferenceTrace
    rerun: Inference
    mismatches: list[str] = field(default_factory=list)

    @property
    def matches(self) -> bool:
        return not self.mismatches


def replay(session: Session, inference_id: str, artifact: Path) -> Replay:
    trace = session.trace_inference(inference_id)
    recorded, model = trace["inference"], trace["model"]
    raw = artifact.read_bytes()
    if hashlib.sha256(raw).hexdigest() != recorded["artifact_sha256"]:
        raise CannotReplay(f"{artifact} is not the artifact the inference names ({recorded['artifact_sha256'][:16]}…)")
    access = session.request_access([recorded["record_id"]], purpose=Purpose.DIAGNOSIS_AI)
    [item] = session.fetch_allowed(access)
    if isinstance(item, Refused):
        raise CannotReplay(f"the record {recorded['record_id']} is not released to you: {item.reason}")
    if item.key_entry["ciphertext_sha256"] != recorded["ciphertext_sha256"]:
        raise CannotReplay(
            f"the record {recorded['record_id']} has changed since (version {item.version} now): the ciphertext the "
            "model saw is no longer released"
        )
    scored = score_sealed([item], session.decrypt, load_booster(raw), ModelSpec.of(model))
    if scored.invalid:
        raise CannotReplay(f"the record no longer fits the model's schema: {'; '.join(scored.invalid[0][1])}")
    rerun = scored.inferences[0]
    checks = [
        (rerun.input_sha256 == recorded["input_sha256"], "the input row differs from the one recorded"),
        (rerun.explanation_sha256 == recorded["explanation_sha256"], "the explanation differs from the one recorded"),
        (
            recorded.get("output") is None or rerun.output == recorded.get("output"),
            f"the output differs: recorded {recorded.get('output')}, re-run {rerun.output}",
        ),
    ]
    return Replay(trace, rerun, [failure for holds, failure in checks if not holds])
