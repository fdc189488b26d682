"""Authorized batch scoring offline: where the CPU goes per record, and ModelRunner.run end to end in one
interpreter (the serial path) and with scoring processes, at several corpus sizes. No network: the
ledger and the store answer from memory (careledger_bench.offline); their own time is counted apart.

    python -m careledger_bench scoring-offline [--records 1000,20000] [--processes N] [--serial | --pooled]
        [--chunk 64] [--batch-size 250] [--workers 8] [--profile-records 2000] [--json FILE]
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import xgboost as xgb
from careledger import crypto
from careledger.json_types import JsonArgument
from careledger.services import SealedRecord
from careledger_models.datasets import canonical_row, check_features, from_observation
from careledger_models.pool import DEFAULT_CHUNK
from careledger_models.runner import ModelRunner, RunReport
from careledger_models.scoring import XGB_THREADS, ModelSpec
from careledger_protocol import Purpose, sha256_of_json

from .offline import FakeLedger, OfflineSession, approved_model, build_corpus

STAGES = {
    "ledger": "access decision, keys, store answer: parse and SHA-256 checks",
    "unwrap": "unwrap the record key (JWE ECDH-ES+A256KW, binding check)",
    "open": "AES-256-GCM open (record binding in the associated data)",
    "parse": "parse the FHIR JSON",
    "features": "read features, check them against the schema",
    "predict": "XGBoost DMatrix and prediction",
    "contributions": "XGBoost SHAP contributions",
    "explain": "outputs and explanations (rounding)",
    "digests": "input and explanation SHA-256",
    "record": "inference batch document, its JSON",
}


class _Clock:
    """CPU seconds per stage (this process, all threads: other tenants of the machine do not count); the
    in-memory ledger's and store's own time is taken out."""

    def __init__(self, ledger: FakeLedger) -> None:
        self.ledger = ledger
        self.spent = dict.fromkeys(STAGES, 0.0)

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        busy, started = self.ledger.busy_s, time.process_time()
        yield
        self.spent[stage] += time.process_time() - started - (self.ledger.busy_s - busy)


def stage_profile(session: OfflineSession, ledger: FakeLedger, runner: ModelRunner, ids: list[str]) -> dict[str, float]:
    """Per-record ms of each stage of the serial path (the steps of scoring.score_sealed and the runner's
    ledger calls, one batch at a time in this thread)."""
    clock = _Clock(ledger)
    booster, names = runner.booster, list(runner.spec.features)
    for i in range(0, len(ids), runner.batch_size):
        with clock("ledger"):
            access = session.request_access(ids[i : i + runner.batch_size], Purpose.DIAGNOSIS_AI)
            sealed = [s for s in session.fetch_allowed(access) if isinstance(s, SealedRecord)]
        rows = []
        for item in sealed:
            ref = crypto.RecordRef(item.record_id, item.patient_id, item.version)
            with clock("unwrap"):
                key = session._unwrap(item.key_entry, ref)
            with clock("open"):
                plain = crypto.open_blob(item.blob, key, ref)
            with clock("parse"):
                resource = json.loads(plain)
            with clock("features"):
                rows.append(_row(runner.spec, resource))
        with clock("predict"):
            matrix = xgb.DMatrix(np.array(rows), feature_names=names, nthread=XGB_THREADS)
            predictions = booster.predict(matrix).tolist()
        with clock("contributions"):
            contributions = booster.predict(matrix, pred_contribs=True).tolist()
        with clock("explain"):
            explained = [*names, "bias"]
            outputs = [
                {"probability": round(p, 6), "label": "positive" if p >= 0.5 else "negative"} for p in predictions
            ]
            explanations = [{k: round(v, 6) for k, v in zip(explained, c, strict=True)} for c in contributions]
        with clock("digests"):
            digests = [
                (hashlib.sha256(canonical_row(dict(zip(names, row, strict=True)))).hexdigest(), sha256_of_json(e))
                for row, e in zip(rows, explanations, strict=True)
            ]
        with clock("record"):
            doc: dict[str, JsonArgument] = {
                "access_tx_id": access["tx_id"],
                "inferences": [
                    {"record_id": s.record_id, "input_sha256": d[0], "explanation_sha256": d[1]}
                    for s, d in zip(sealed, digests, strict=True)
                ],
            }
            session.record_inferences(
                doc,
                {s.record_id: o for s, o in zip(sealed, outputs, strict=True)},
                {s.record_id: e for s, e in zip(sealed, explanations, strict=True)},
            )
    return {stage: round(seconds / len(ids) * 1000, 4) for stage, seconds in clock.spent.items()}


def _row(spec: ModelSpec, resource: dict[str, Any]) -> list[float]:
    features = from_observation(resource)
    if check_features(spec.schema, features):
        raise ValueError("the offline corpus has only valid records")
    return [float(features[f]) for f in spec.features]


def timed_run(
    runner: ModelRunner, ledger: FakeLedger, ids: list[str], workers: int
) -> tuple[RunReport, dict[str, Any]]:
    """ModelRunner.run on `ids`: wall time, this process's CPU (all its threads) less the fake ledger's,
    and the scoring processes' CPU."""
    ledger.recorded.clear()
    busy, pool_cpu = ledger.busy_s, runner.pool.worker_cpu_s if runner.pool else 0.0
    wall, cpu = time.perf_counter(), time.process_time()
    report = runner.run(ids, workers=workers)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    fake = ledger.busy_s - busy
    processes = (runner.pool.worker_cpu_s - pool_cpu) if runner.pool else 0.0
    per = 1000 / len(ids)
    return report, {
        "records": len(ids),
        "scored": len(report.inferences),
        "records_per_s": round(len(report.inferences) / wall, 1),
        "wall_ms_per_record": round(wall * per, 4),
        "client_cpu_ms_per_record": round((cpu - fake) * per, 4),
        "process_cpu_ms_per_record": round(processes * per, 4),
        "total_cpu_ms_per_record": round((cpu - fake + processes) * per, 4),
        "fake_network_ms_per_record": round(fake * per, 4),
    }


def same_inferences(a: RunReport, b: RunReport) -> bool:
    """The same inferences, refusals and problems (access transactions are the runs' own)."""

    def strip(r: RunReport) -> tuple[list[Any], list[Any], list[Any]]:
        return [{**vars(i), "access_tx_id": ""} for i in r.inferences], r.denied, r.invalid

    return strip(a) == strip(b)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="careledger-bench scoring-offline", description=__doc__.split("\n")[0])
    parser.add_argument("--records", default="1000,20000", help="corpus sizes, comma-separated")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1, help="scoring processes")
    parser.add_argument("--chunk", type=int, default=DEFAULT_CHUNK, help="records per task of a scoring process")
    parser.add_argument("--batch-size", type=int, default=250)
    parser.add_argument("--workers", type=int, default=8, help="batches in flight (threads)")
    parser.add_argument("--profile-records", type=int, default=2000, help="records for the per-stage profile")
    parser.add_argument("--repeat", type=int, default=2, help="runs per size and path (the best is shown)")
    paths = parser.add_mutually_exclusive_group()
    paths.add_argument("--serial", action="store_true", help="only the serial path (one interpreter, as before)")
    paths.add_argument("--pooled", action="store_true", help="only the scoring processes")
    parser.add_argument("--json", type=Path, help="write the numbers here too")
    args = parser.parse_args(argv)
    sizes = [int(n) for n in args.records.split(",")]
    cores = os.cpu_count()

    started = time.perf_counter()
    corpus = build_corpus(max(sizes), processes=cores or 1)
    made_s = time.perf_counter() - started
    print(
        f"offline authorized scoring: {corpus.dataset.name}, {len(corpus.dataset.features)} features, {cores} cores, "
        f"load {os.getloadavg()[0]:.2f}; {len(corpus.records):,} records made in {made_s:.1f} s"
    )
    results: dict[str, Any] = {"cores": cores, "corpus_s": round(made_s, 1), "runs": []}
    with tempfile.TemporaryDirectory() as tmp:
        artifact, entry = approved_model(corpus, Path(tmp))
        ledger = FakeLedger(corpus, entry)
        session = OfflineSession.of(ledger)
        serial = ModelRunner(session, artifact, entry["model_id"], entry["version"], batch_size=args.batch_size)
        # The corpus stands in for the network's state, which a client does not hold: its objects are left out
        # of this process's garbage collections (they made the serial path's full collections ~2x dearer at 20,000).
        gc.freeze()
        n = min(args.profile_records, len(corpus.records))
        stage_profile(session, ledger, serial, corpus.ids[: min(n, 500)])  # warm up
        stages = stage_profile(session, ledger, serial, corpus.ids[:n])
        results["stages_ms_per_record"] = stages
        print(f"\nper-record CPU by stage, serial path, one batch at a time ({n:,} records):")
        for stage, ms in stages.items():
            print(f"  {STAGES[stage]:<66} {ms:>7.4f} ms")
        total = sum(stages.values())
        print(f"  {'total':<66} {total:>7.4f} ms  ({1000 / total:,.0f} records/s on one core)")

        pooled = None
        if not args.serial:
            t0 = time.perf_counter()
            pooled = ModelRunner(
                session, artifact, entry["model_id"], entry["version"], args.batch_size, processes=args.processes
            )
            assert pooled.pool is not None
            pooled.pool.chunk = args.chunk
            pooled.pool.wait_ready()
            results["pool_start_s"] = round(time.perf_counter() - t0, 2)
        runners = [("serial", serial)] * (not args.pooled) + [(f"pooled x{args.processes}", pooled)] * (
            pooled is not None
        )
        print(
            f"\nModelRunner.run end to end (batches of {args.batch_size}, {args.workers} in flight, "
            f"best of {args.repeat}):"
        )
        print(
            f"  {'path':<11} {'records':>8} {'records/s':>10} {'wall ms/rec':>12} {'client CPU':>11} "
            f"{'processes CPU':>14} {'total CPU':>10} {'same':>5}"
        )
        try:
            for size in sizes:
                ids = corpus.ids[:size]
                reports: list[RunReport] = []
                for name, runner in runners:
                    assert runner is not None
                    best: dict[str, Any] | None = None
                    for _ in range(args.repeat):
                        report, numbers = timed_run(runner, ledger, ids, args.workers)
                        if best is None or numbers["wall_ms_per_record"] < best["wall_ms_per_record"]:
                            best = numbers
                    assert best is not None
                    reports.append(report)
                    same = "yes" if same_inferences(reports[0], report) else "NO"
                    results["runs"].append({"path": name, **best, "same_as_first": same == "yes"})
                    print(
                        f"  {name:<11} {size:>8,} {best['records_per_s']:>10,.0f} {best['wall_ms_per_record']:>12.4f} "
                        f"{best['client_cpu_ms_per_record']:>11.4f} {best['process_cpu_ms_per_record']:>14.4f} "
                        f"{best['total_cpu_ms_per_record']:>10.4f} {same:>5}",
                        flush=True,
                    )
        finally:
            if pooled is not None:
                pooled.close()
    if "pool_start_s" in results:
        print(
            f"  (the scoring processes started, keys and model loaded, in {results['pool_start_s']} s, before the runs)"
        )
    print("  CPU columns are ms per record; client CPU leaves out the in-memory ledger's and store's own time")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
