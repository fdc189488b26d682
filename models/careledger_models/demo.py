"""The models part of `make demo`: seed patients, train, register, approve, run only where authorized,
and show what the patient and the auditor can see."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from careledger.errors import CareLedgerError, GatewayError
from careledger.ledger import BlockReader, verify_trail
from careledger.services import Session
from careledger_network.paths import state_dir

from .datasets import DATASETS
from .policies import ensure_policy
from .runner import ModelRunner, register
from .seed import SeedResult, seed
from .tracing import trace
from .train import train
from .verify import verify_and_approve


def _line(text: str = "") -> None:
    print(text, flush=True)


def main() -> int:
    state = state_dir()
    profiles = state / "profiles"
    if not (profiles / "hospital1.json").exists():
        print("the network is not up: run `make network-up` first", file=sys.stderr)
        return 1
    try:
        with tempfile.TemporaryDirectory() as tmp:
            return _demo(profiles, state, Path(tmp))
    except (CareLedgerError, GatewayError) as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1


def _demo(profiles: Path, state: Path, artifacts: Path) -> int:
    _line("\n== Seeding synthetic patients from the scikit-learn datasets ==")
    seeded = {}
    for name, records, patients in (("breast-cancer", 100, 20), ("diabetes-progression", 40, 10)):
        result = seed(name, records=records, patients=patients, state=state)
        seeded[name] = result
        _line(f"  {name}: {result.summary()}")

    researcher = Session.open(profiles / "hospital1.json", "h1-researcher-1")
    auditor = Session.open(profiles / "healthauthority.json", "ha-auditor-1")
    clinician = Session.open(profiles / "hospital1.json", "h1-clinician-1", org_key_from="h1-admin")
    auditor.register()
    try:
        for name, result in seeded.items():
            _line(f"\n== {name}: train, register (researcher), approve (auditor), run (clinician) ==")
            trained = train(DATASETS[name](), seed=7, out_dir=artifacts)
            metrics = ", ".join(f"{k}={v}" for k, v in trained.card["metrics"].items() if k != "n")
            _line(f"  trained: {metrics}")
            entry = register(researcher, trained)
            policy = ensure_policy(auditor, entry["model_id"])
            if entry["status"] == "registered":
                # The auditor reproduces the registered metrics from the artifact; the ledger applies the policy.
                entry = verify_and_approve(auditor, entry["model_id"], entry["version"], trained.artifact)
            approval = entry.get("approval")
            how = (
                f"under approval policy v{approval['policy_version']}, its metrics reproduced by {entry['approved_by']}"
                if approval
                else f"before approval policies (the current one is v{policy['version']})"
            )
            _line(f"  registry: {entry['model_id']}@{entry['version']} {entry['status']} {how}")
            runner = ModelRunner(clinician, trained.artifact, entry["model_id"], entry["version"])
            started = time.perf_counter()
            report = runner.run(sorted(result.records))
            elapsed = time.perf_counter() - started
            _line(
                f"  ran on {len(result.records)} records in {elapsed:.1f} s: {len(report.inferences)} scored, "
                f"{len(report.denied)} denied (never decrypted), {len(report.invalid)} invalid; "
                f"{len(report.inference_tx_ids)} inference transaction(s) on the ledger"
            )
            if report.denied:
                record_id, reason = report.denied[0]
                _line(f"  e.g. denied {record_id[:16]}…: {reason}")
            if report.inference_tx_ids:
                # The auditor walks one result back to its model, approval, access, consent and training run.
                name = f"{report.inference_tx_ids[0]}:0"
                started = time.perf_counter()
                traced = trace(auditor, name, trained.artifact)
                _line(f"  model trace {name[:12]}…:0 ({time.perf_counter() - started:.2f} s):")
                _line("    " + traced.text().replace("\n", "\n    "))
            if report.inferences:
                first = report.inferences[0]
                top = sorted(
                    ((k, v) for k, v in first.contributions.items() if k != "bias"), key=lambda kv: -abs(kv[1])
                )[:3]
                _line(
                    f"  e.g. {first.record_id[:16]}… -> {first.output}; top contributions: "
                    + ", ".join(f"{k} {v:+.3f}" for k, v in top)
                )

        patient_id, patient_record = next(iter(seeded["breast-cancer"].records.values())), None
        for record_id, pid in seeded["breast-cancer"].records.items():
            if seeded["breast-cancer"].patients[pid] == "granted":
                patient_id, patient_record = pid, record_id
                break
        org = "hospital1" if patient_id.startswith("h1") else "hospital2"
        with Session.open(profiles / f"{org}.json", patient_id) as patient:
            _line(f"\n== What patient {patient_id} sees ==")
            events = patient.access_log()
            _line(f"  {len(events)} access events on their records, e.g.:")
            for event in events[-3:]:
                _line(
                    f"    {event['time']}  {event['requester']} ({event['requester_org']}) "
                    f"{event['purpose']}: {event['decision']}"
                )
            inferences = patient.inferences_of()
            for inference in inferences[-2:]:
                _line(
                    f"    model {inference['model_id']}@{inference['version']} "
                    f"on {inference['record_id'][:16]}…: {inference['output']}"
                )
        del patient_record

        _line("\n== The auditor checks the whole access trail against the blocks ==")
        trail = auditor.all_access(page_size=1000)
        report_trail = verify_trail(
            BlockReader(auditor.gateway, auditor.contract.network.name), [e["tx_id"] for e in trail]
        )
        _line(
            f"  {report_trail.events_checked} events, {report_trail.blocks_checked} blocks: "
            + ("hash chain intact, every event VALID on the ledger" if report_trail.ok else f"MISMATCH {report_trail}")
        )
    finally:
        for session in (researcher, auditor, clinician):
            session.close()
    _web_users(profiles, state, artifacts, seeded)
    _directory(state)
    _line("\nTry the CLI, e.g.:  .venv/bin/careledger --org hospital1 --user h1-patient-1 audit log")
    return 0


def _directory(state: Path) -> None:
    """Invented names for every demo person, in each hospital's sealed directory (never on the ledger)."""
    from careledger_network.consortium import load
    from careledger_network.demo_directory import fill

    counts = fill(load(), state)
    _line("\n== Directories (names off the ledger): " + ", ".join(f"{k} {v} people" for k, v in counts.items()) + " ==")


def _web_users(profiles: Path, state: Path, artifacts: Path, seeded: dict[str, SeedResult]) -> None:
    """The web apps' demo users, one of every role in every organization, each with a passphrase
    (careledger_network.demo_users); a record for each hospital's web patient to open; research consents
    for the web researchers (from the seeded patients who consented to research), so their cohort is not
    empty; and the models' artifacts where the apps look for them (models/artifacts)."""
    import shutil

    from careledger_network import crypto as netcrypto
    from careledger_network import demo_users
    from careledger_network.consortium import load

    from .datasets import DATASETS, to_observation
    from .train import ARTIFACTS

    c = load()

    def register(state: Path, who: demo_users.DemoUser) -> None:
        with Session.open(profiles / f"{who.org.key}.json", who.user, who.passphrase.encode()) as s:
            s.register()

    demo_users.enroll(c, state, netcrypto.enroll_user, register)
    for org in (o for o in c.orgs if o.store_port):
        patient, clinician = (demo_users.user(c, org.key, role) for role in ("patient", "clinician"))
        with Session.open(profiles / f"{org.key}.json", patient.user, patient.passphrase.encode()) as s:
            has_records = bool(s.my_records())
        if not has_records:
            dataset = DATASETS["breast-cancer"]()
            features = dict(zip(dataset.features, dataset.frame.iloc[3].tolist(), strict=True))
            with Session.open(profiles / f"{org.key}.json", clinician.user, clinician.passphrase.encode()) as s:
                s.create_record(patient.user, to_observation(dataset, features), dataset.category)
    researchers = [demo_users.user(c, o.key, "researcher") for o in c.orgs if o.store_port]
    consented = _research_consents(profiles, seeded, [f"{r.user}@{r.org.msp_id}" for r in researchers])
    for folder in artifacts.iterdir():  # the approved artifacts, for the hospital app's model page
        shutil.copytree(folder, ARTIFACTS / folder.name, dirs_exist_ok=True)
    _line(
        f"\n== Web demo users: every role of every organization, passphrase {demo_users.PASSPHRASE} "
        f"({consented} research consents given to the web researchers) =="
    )


def _research_consents(profiles: Path, seeded: dict[str, SeedResult], researchers: list[str]) -> int:
    """The seeded patients who consented to research by the seed's researcher consent to the web researchers
    too, for the same categories (a demo's stand-in for patients choosing to; each is a grant on the ledger)."""
    from concurrent.futures import ThreadPoolExecutor

    from careledger_protocol import Purpose

    from .seed import RESEARCHER, VALID_UNTIL

    patients = sorted({p for result in seeded.values() for p in result.patients})

    def consent(patient_id: str) -> int:
        org = "hospital1" if patient_id.startswith("h1") else "hospital2"
        made = 0
        with Session.open(profiles / f"{org}.json", patient_id) as s:
            grants = s.grants_of()
            given = {(g["grantee"], tuple(g["categories"])) for g in grants if g["status"] == "active"}
            for grant in grants:
                if grant["status"] != "active" or Purpose.RESEARCH not in grant["purposes"]:
                    continue
                if not grant["grantee"].startswith(f"{RESEARCHER}@") or not grant["categories"]:
                    continue
                for researcher in researchers:
                    if (researcher, tuple(grant["categories"])) not in given:
                        s.grant(researcher, [Purpose.RESEARCH], VALID_UNTIL, categories=grant["categories"])
                        made += 1
        return made

    with ThreadPoolExecutor(max_workers=8) as pool:
        return sum(pool.map(consent, patients))


if __name__ == "__main__":
    sys.exit(main())
