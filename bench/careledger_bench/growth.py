"""Growth: does request-access, and a patient's access-log page, stay as fast with 100,000 audit events
on the ledger as with 1,000? And how many ledger bytes does a record, a grant, an access event cost?

    python -m careledger_bench.growth [--events 100000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from careledger.json_types import JsonArgument
from careledger.services import Session
from careledger_network.consortium import load
from careledger_network.crypto import enroll_user
from careledger_network.paths import state_dir
from careledger_protocol import Purpose

from .runner import run
from .workloads import _SIZED_JWE, _sha


def _disk(path: Path) -> int:
    return int(subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True, check=True).stdout.split()[0])


def _p50(samples: list[float]) -> float:
    return round(statistics.median(samples), 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m careledger_bench.growth", description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args(argv)
    print(json.dumps(measure_growth(args.events), indent=2))
    return 0


def measure_growth(target_events: int = 100_000) -> dict[str, Any]:
    state = state_dir()
    c = load()
    org = c.org("hospital1")
    profiles = state / "profiles"
    # Block files are append-only: their growth is exactly what the ledger stores (state and history
    # databases come on top, but LevelDB compaction makes their size noisy over short windows).
    ledger = state / "data" / org.peers[0].name / "ledgersData" / "chains" / "chains" / c.channel
    patient = f"h1-growth-{uuid.uuid4().hex[:6]}"
    enroll_user(state, org, patient, "patient")
    with (
        Session.open(profiles / "hospital1.json", patient) as p,
        Session.open(profiles / "hospital1.json", "h1-clinician-1") as clinician,
        Session.open(profiles / "hospital2.json", "h2-clinician-1") as reader,
    ):
        p.register()
        clinician.register()
        reader.register()
        records = [f"g-{patient}-{i}" for i in range(100)]
        before = _disk(ledger)

        patient_id = p.member_id()

        def create(i: int) -> None:
            doc: dict[str, JsonArgument] = {
                "record_id": records[i],
                "patient_id": patient_id,
                "category": "growth",
                "resource_type": "Observation",
                "ciphertext_sha256": _sha(records[i]),
                "size": 4096,
                "locator": f"sha256/{_sha(records[i])}",
            }
            keys: dict[str, JsonArgument] = {patient_id: _SIZED_JWE, "org:Hospital1MSP": _SIZED_JWE}
            clinician.submit("CreateRecord", doc, transient={"wrapped_keys": keys})

        run("create", create, concurrency=16, operations=len(records))
        per_record = (_disk(ledger) - before) / len(records)

        before = _disk(ledger)

        def grant(i: int) -> None:
            doc: dict[str, JsonArgument] = {
                "grantee": reader.member_id(),
                "record_ids": [records[i]],
                "purposes": [Purpose.TREATMENT],
                "valid_until": "2099-01-01T00:00:00Z",
            }
            wrapped: dict[str, JsonArgument] = {records[i]: _SIZED_JWE}
            p.submit("GrantConsent", doc, transient={"wrapped_keys": wrapped})

        run("grant", grant, concurrency=16, operations=len(records))
        per_grant = (_disk(ledger) - before) / len(records)

        batch = json.dumps({"record_ids": records, "purpose": Purpose.TREATMENT})
        one = json.dumps({"record_ids": records[:1], "purpose": Purpose.TREATMENT})
        events = 0

        def add_events(target: int) -> None:
            nonlocal events
            needed = max(0, (target - events) // len(records))
            result = run(
                "events",
                lambda i: reader.contract.submit_transaction("RequestAccess", batch),
                concurrency=16,
                operations=needed,
            )
            events += (needed - result.errors) * len(records)

        def measure() -> dict[str, float]:
            time.sleep(5)  # let LevelDB finish compacting what the fill wrote
            access = [_timed(lambda: reader.contract.submit_transaction("RequestAccess", one)) for _ in range(30)]
            log = [
                _timed(lambda: p.contract.evaluate_transaction("ListAccessByPatient", patient_id, "50", ""))
                for _ in range(300)
            ]
            return {"events": events, "request_access_p50_ms": _p50(access), "access_log_page_p50_ms": _p50(log)}

        add_events(1000)
        small = measure()
        before, events_before = _disk(ledger), events
        started = time.perf_counter()
        add_events(target_events)
        filled = time.perf_counter() - started
        per_event = (_disk(ledger) - before) / max(1, events - events_before)
        large = measure()
    report: dict[str, Any] = {
        "at_1000": small,
        "at_large": large,
        "ratio_request_access": round(large["request_access_p50_ms"] / small["request_access_p50_ms"], 2),
        "ratio_access_log_page": round(large["access_log_page_p50_ms"] / small["access_log_page_p50_ms"], 2),
        "fill_seconds": round(filled, 1),
        "block_bytes_per_record": round(per_record),
        "block_bytes_per_grant": round(per_grant),
        "block_bytes_per_access_event": round(per_event),
        "ledger_folder": str(ledger),
    }
    return report


def _timed(fn: Any) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


if __name__ == "__main__":
    sys.exit(main())
