"""Seed the local network: dataset rows become synthetic patients' records at the hospitals.

Each synthetic patient is enrolled through its hospital's CA (role patient), registers an encryption
key, and has records (FHIR Observations, encrypted, stored at the hospital, registered on the
ledger) created by a clinician there. Consents are mixed so every branch is exercised: patients
grant the model-running clinician diagnosis-ai (and some the researcher research), some refuse,
some grant and then revoke.

    python -m careledger_models.seed --dataset breast-cancer --records 200 --patients 40
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from careledger.services import Session
from careledger_network import crypto as netcrypto
from careledger_network.consortium import load
from careledger_network.paths import state_dir
from careledger_protocol import Purpose

from .datasets import DATASETS, to_observation

T = TypeVar("T")
CONSENT_MIX = ("granted", "granted", "granted", "refused", "revoked")  # cycled over patients
CLINICIAN = {"hospital1": "h1-clinician-1", "hospital2": "h2-clinician-1"}
MODEL_CLINICIAN = "h1-clinician-1"  # of Hospital1, like RESEARCHER (ledger ids: <id>@<its MSP>)
RESEARCHER = "h1-researcher-1"
VALID_UNTIL = "2099-01-01T00:00:00Z"


@dataclass
class SeedResult:
    dataset: str
    patients: dict[str, str]  # patient id -> consent branch
    records: dict[str, str]  # record id -> patient id
    rows: dict[str, int]  # record id -> dataset row
    seconds: float

    def summary(self) -> dict[str, Any]:
        branches: dict[str, int] = {}
        for branch in self.patients.values():
            branches[branch] = branches.get(branch, 0) + 1
        return {
            "dataset": self.dataset,
            "patients": len(self.patients),
            "records": len(self.records),
            "consents": branches,
            "seconds": round(self.seconds, 1),
        }


def _parallel(fn: Callable[[Any], T], items: list[Any], workers: int = 12) -> list[T]:
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(fn, items))


def seed(
    dataset_name: str = "breast-cancer",
    records: int = 200,
    patients: int = 40,
    state: Path | None = None,
    consent_mix: tuple[str, ...] = CONSENT_MIX,
) -> SeedResult:
    started = time.perf_counter()
    c = load()
    state = state or state_dir()
    dataset = DATASETS[dataset_name]()
    hospitals = [o for o in c.orgs if o.store_port]
    run = time.strftime("%H%M%S")
    patient_orgs = {
        f"{hospitals[i % len(hospitals)].key[0]}{hospitals[i % len(hospitals)].key[-1]}-sp{run}-{i:04d}": hospitals[
            i % len(hospitals)
        ]
        for i in range(patients)
    }
    profile = {o.key: state / "profiles" / f"{o.key}.json" for o in hospitals}
    model_clinician, researcher = (f"{u}@{c.org('hospital1').msp_id}" for u in (MODEL_CLINICIAN, RESEARCHER))

    for org in hospitals:  # organization keys and the staff who create and use records
        for user in (org.admin, CLINICIAN[org.key]):
            with Session.open(profile[org.key], user) as s:
                s.register()
    with Session.open(profile["hospital1"], RESEARCHER) as s:
        s.register()

    _parallel(lambda p: netcrypto.enroll_user(state, patient_orgs[p], p, "patient"), list(patient_orgs))

    def register(patient_id: str) -> None:
        with Session.open(profile[patient_orgs[patient_id].key], patient_id) as s:
            s.register()

    _parallel(register, list(patient_orgs))

    # Records: dataset rows (cycled when more records than rows are asked for), round-robin over patients.
    plan = [(i, list(patient_orgs)[i % patients]) for i in range(records)]
    sessions = {org.key: Session.open(profile[org.key], CLINICIAN[org.key]) for org in hospitals}
    try:

        def create(item: tuple[int, str]) -> tuple[str, str, int]:
            i, patient_id = item
            row = i % len(dataset.frame)
            features = dict(zip(dataset.features, dataset.frame.iloc[row].tolist(), strict=True))
            observation = to_observation(dataset, features, outcome=float(dataset.target.iloc[row]))
            record = sessions[patient_orgs[patient_id].key].create_record(patient_id, observation, dataset.category)
            return record["id"], patient_id, row

        created = _parallel(create, plan, workers=16)
    finally:
        for s in sessions.values():
            s.close()

    branches = {p: consent_mix[i % len(consent_mix)] for i, p in enumerate(patient_orgs)}

    research = {p for i, p in enumerate(patient_orgs) if i % 2 == 0}  # half of the consenting also allow research

    def consent(patient_id: str) -> None:
        branch = branches[patient_id]
        if branch == "refused":
            return
        with Session.open(profile[patient_orgs[patient_id].key], patient_id) as s:
            grant = s.grant(
                model_clinician, [Purpose.DIAGNOSIS_AI, Purpose.TREATMENT], VALID_UNTIL, categories=[dataset.category]
            )
            if branch == "revoked":
                s.revoke(grant["id"])
            elif patient_id in research:
                s.grant(researcher, [Purpose.RESEARCH], VALID_UNTIL, categories=[dataset.category])

    _parallel(consent, list(patient_orgs))
    return SeedResult(
        dataset=dataset.name,
        patients=branches,
        records={rid: pid for rid, pid, _ in created},
        rows={rid: row for rid, _, row in created},
        seconds=time.perf_counter() - started,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m careledger_models.seed", description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="breast-cancer")
    parser.add_argument("--records", type=int, default=200)
    parser.add_argument("--patients", type=int, default=40)
    parser.add_argument("--out", type=Path, help="write the seeded ids here (JSON)")
    args = parser.parse_args(argv)
    if args.records < 1 or args.patients < 1:
        parser.error("--records and --patients must be at least 1")
    result = seed(args.dataset, args.records, args.patients)
    print(json.dumps(result.summary()))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(
            json.dumps(
                {
                    "summary": result.summary(),
                    "patients": result.patients,
                    "records": result.records,
                    "rows": result.rows,
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
