"""`careledger model trace INFERENCE_ID`: an inference walked back to its model version, approval, access
decision, consent and training run. The ledger checks the links it holds (TraceInference); this adds the
checks only the holder of the files can make: the artifact file against the registered hash, the cohort's
leaves (cohort.json beside the artifact) against the registered Merkle root, and this installation's feature
pipeline against the one the model was trained with. A link that fails says where; one that cannot be
checked here says why."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from careledger.services import Session
from careledger_protocol import CohortLeaf, InferenceTrace, merkle_root

from .datasets import transform_sha256


@dataclass(frozen=True)
class Check:
    link: str
    ok: bool | None  # None: not checked here (the detail says why)
    detail: str


@dataclass(frozen=True)
class TraceReport:
    ledger: InferenceTrace
    checks: list[Check]

    @property
    def holds(self) -> bool:
        """Every link checked held (links not checkable here do not count against it)."""
        return all(c.ok is not False for c in self.checks)

    def text(self) -> str:
        mark = {True: "ok  ", False: "FAIL", None: "--  "}
        inference = self.ledger["inference"]
        head = f"inference {inference['tx_id']}:{inference['n']} on {inference['record_id']} " + (
            "- every link holds" if self.holds else "- a link FAILS"
        )
        return "\n".join([head, *(f"  {mark[c.ok]} {c.link:<10} {c.detail}" for c in self.checks)])


def trace(session: Session, inference_id: str, artifact: Path | None = None) -> TraceReport:
    ledger = session.trace_inference(inference_id)
    checks = [Check(link["link"], link["ok"], link["detail"]) for link in ledger["links"]]
    model = ledger.get("model")
    training = model.get("training") if model else None
    if model is not None:
        checks.append(_artifact(model["artifact_sha256"], artifact))
    if training is not None:
        here = transform_sha256()
        same = here == training["transform_sha256"]
        checks.append(
            Check(
                "pipeline",
                same,
                "this installation turns records into features with the code the model was trained with"
                if same
                else "this installation's feature pipeline differs from the one the model was trained with "
                f"({here[:16]}… instead of {training['transform_sha256'][:16]}…)",
            )
        )
        cohort = training.get("cohort")
        if cohort is not None:
            checks.append(_cohort(cohort["merkle_root"], cohort["records"], artifact))
    return TraceReport(ledger, checks)


def _artifact(registered: str, artifact: Path | None) -> Check:
    if artifact is None:
        return Check("artifact", None, "no artifact file given (--artifact): its hash was not checked here")
    actual = hashlib.sha256(artifact.read_bytes()).hexdigest()
    if actual != registered:
        return Check("artifact", False, f"{artifact} is not the registered artifact ({actual[:16]}…)")
    return Check("artifact", True, f"{artifact} is the registered artifact")


def _cohort(root: str, records: int, artifact: Path | None) -> Check:
    leaves_file = artifact.with_name("cohort.json") if artifact else None
    if leaves_file is None or not leaves_file.exists():
        return Check("cohort", None, "the cohort's leaves (cohort.json beside the artifact) are not here")
    leaves = [CohortLeaf(*leaf) for leaf in json.loads(leaves_file.read_text())]
    if len(leaves) != records or merkle_root(leaves) != root:
        return Check("cohort", False, f"{leaves_file} does not give the registered Merkle root")
    return Check("cohort", True, f"{leaves_file}: {records} record versions, the registered Merkle root")
