"""Authorized batch scoring end to end (access transactions, decryption, prediction, inference records)
next to plain XGBoost prediction on the same rows, and where each record's CPU goes: the network's processes
by role, this client and its scoring processes. The machine's cores divided by that CPU is the most this
design can score here, whatever the concurrency."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
import xgboost as xgb
from careledger.services import Session
from careledger_models.datasets import breast_cancer
from careledger_models.policies import ensure_policy
from careledger_models.runner import ModelRunner, register
from careledger_models.seed import seed
from careledger_models.train import train
from careledger_models.verify import verify_and_approve

from .network_cpu import NetworkCPU


def batch_scoring(
    state: Path, records: int = 1000, batch_size: int = 250, workers: int = 8, processes: int | None = None
) -> dict[str, Any]:
    """`processes`: scoring processes (careledger_models.pool), one per core by default; 0 scores in this
    interpreter (the serial path)."""
    processes = (os.cpu_count() or 1) if processes is None else processes
    profiles = state / "profiles"
    started = time.perf_counter()
    seeded = seed(
        "breast-cancer", records=records, patients=max(10, records // 10), state=state, consent_mix=("granted",)
    )
    seed_seconds = time.perf_counter() - started
    dataset = breast_cancer()
    with tempfile.TemporaryDirectory() as tmp:
        trained = train(dataset, seed=31, out_dir=Path(tmp))
        with Session.open(profiles / "hospital1.json", "h1-researcher-1") as researcher:
            entry = register(researcher, trained)
        if entry["status"] == "registered":
            with Session.open(profiles / "healthauthority.json", "ha-auditor-1") as auditor:
                auditor.register()
                ensure_policy(auditor, entry["model_id"])
                entry = verify_and_approve(auditor, entry["model_id"], entry["version"], trained.artifact)
        with Session.open(profiles / "hospital1.json", "h1-clinician-1", org_key_from="h1-admin") as clinician:
            t_pool = time.perf_counter()
            runner = ModelRunner(
                clinician, trained.artifact, entry["model_id"], entry["version"], batch_size, processes=processes
            )
            with runner:
                if runner.pool is not None:  # started, keys and model loaded, before the clock (like the model)
                    runner.pool.wait_ready()
                pool_start_s = time.perf_counter() - t_pool
                ids = sorted(seeded.records)
                pool_cpu = runner.pool.worker_cpu_s if runner.pool else 0.0
                with NetworkCPU(state, settle=True) as network:  # settled: the seeding's compaction is not ours
                    t0, client_cpu = time.perf_counter(), time.process_time()
                    report = runner.run(ids, workers=workers)
                    end_to_end = time.perf_counter() - t0
                    client_cpu = time.process_time() - client_cpu
                pool_cpu = (runner.pool.worker_cpu_s if runner.pool else 0.0) - pool_cpu
        rows = pd.DataFrame([dataset.frame.iloc[seeded.rows[r]].tolist() for r in ids], columns=dataset.features)
        booster = xgb.Booster()
        booster.load_model(bytearray(trained.artifact.read_bytes()))
        t1 = time.perf_counter()
        matrix = xgb.DMatrix(rows, feature_names=dataset.features)
        booster.predict(matrix)
        booster.predict(matrix, pred_contribs=True)
        plain = time.perf_counter() - t1
    cpu_ms = cpu_per_record(network.per_op(len(ids)), client_cpu, pool_cpu, len(ids))
    return {
        "records": len(ids),
        "scored": len(report.inferences),
        "denied": len(report.denied),
        "invalid": len(report.invalid),
        "end_to_end_s": round(end_to_end, 2),
        "end_to_end_records_per_s": round(len(report.inferences) / end_to_end, 1),
        "plain_xgboost_s": round(plain, 4),
        "plain_xgboost_records_per_s": round(len(ids) / plain, 1),
        "access_batches": len(report.inference_tx_ids),
        "batch_size": batch_size,
        "workers": workers,
        "scoring_processes": processes,
        "runner_start_s": round(pool_start_s, 2),
        "seed_s": round(seed_seconds, 1),
        "quiet_after_s": network.quiet_after_s,
        "cpu_ms_per_record": cpu_ms,
        "cpu_bound_records_per_s": round(1000 * (os.cpu_count() or 1) / cpu_ms["total"], 1),
    }


def cpu_per_record(network: dict[str, float], client_s: float, processes_s: float, records: int) -> dict[str, float]:
    """ms of CPU per record: the network's roles, this interpreter (its threads) and the scoring processes."""
    cpu = {**network, "client": round(1000 * client_s / records, 2), "scoring": round(1000 * processes_s / records, 2)}
    return {**cpu, "total": round(sum(cpu.values()), 2)}
