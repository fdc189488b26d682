"""The researcher and auditor apps offline, for the page tests: scripted ledger sessions with canned answers
stand in for the network (the apps take their session from OPEN_SESSION), and `pages()` renders every HTML
page of both apps (app_sessions.pages() includes them, so the accessibility tests check them too).

The researcher's cohort is real data: breast-cancer rows as FHIR Observations, so training on it runs the
real `train_on_cohort`; the auditor approves a model trained here on the public data, so `verify` really
reproduces its metrics."""

from __future__ import annotations

import copy
import functools
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from careledger.errors import ChaincodeRefusal, FailedPrecondition, NotFound
from careledger.ledger import Block, Transaction
from careledger.services import OpenedRecord, Refused
from careledger_apps import create_auditor_app, create_research_app
from careledger_models.datasets import breast_cancer, to_observation
from careledger_models.policies import BREAST_CANCER

from tests.unit.app_sessions import BASE, EMERGENCY_EVENT, EVENT, GRANT, PATIENT, Browser, _wallet

H1 = "Hospital1MSP"
RESEARCHER_ID = "h1-researcher-1@Hospital1MSP"
AUDITOR_ID = "ha-auditor-1@HealthAuthorityMSP"
COHORT = 24  # records consented for research (training needs at least 20)
RESEARCH_GRANT: dict[str, Any] = {
    **GRANT,
    "id": "g-research",
    "grantee": RESEARCHER_ID,
    "record_ids": [],
    "categories": ["pathology"],
    "purposes": ["research"],
    "keyed_records": [f"rec-r{i}" for i in range(COHORT)],
}
# A record-scoped research grant: its records' categories are asked of the ledger (one is erased).
RECORD_GRANT: dict[str, Any] = {
    **RESEARCH_GRANT,
    "id": "g-records",
    "record_ids": ["rec-x1", "rec-x2"],
    "categories": [],
    "keyed_records": ["rec-x1", "rec-x2"],
}
TREATMENT_GRANT: dict[str, Any] = {**GRANT, "grantee": RESEARCHER_ID, "keyed_records": ["rec-t1"]}


REVIEW: dict[str, Any] = {
    "access_tx_id": "tx-e2",
    "reviewer": AUDITOR_ID,
    "reviewer_org": "HealthAuthorityMSP",
    "reviewer_role": "auditor",
    "verdict": "justified",
    "time": "2026-03-03T08:00:00Z",
    "tx_id": "tx-r1",
    "note_sha256": "cd" * 32,
    "note_length": 40,
    "note": "the record shows the patient arrived unconscious",
}
EMERGENCIES: list[dict[str, Any]] = [
    {
        "access_tx_id": f"tx-e{i}",
        "time": f"2026-03-0{i}T03:00:00Z",
        "requester": "h2-clinician-1@Hospital2MSP",
        "requester_org": "Hospital2MSP",
        "patient_ids": [PATIENT],
        "record_ids": ["rec-1"],
        "custodians": [H1],
        "justification_sha256": "ef" * 32,
        "justification_length": 47,
        "awaiting_release": [],
        "released": ["rec-1"],
        "reviewed": i == 2,
        **({"review": REVIEW} if i == 2 else {}),
    }
    for i in (1, 2)
]


@functools.cache
def trained_model(folder: Path) -> dict[str, Any]:
    """A breast-cancer model trained on the public data into `folder`, as registered (status registered)."""
    from careledger_models.train import train

    trained = train(breast_cancer(), seed=7, out_dir=folder)
    return {
        **copy.deepcopy(trained.card),
        "version": "1.0.0",
        "status": "registered",
        "registered_by": RESEARCHER_ID,
        "registered_org": H1,
        "registered_at": "2026-03-01T10:00:00Z",
    }


@dataclass
class Researcher:
    """A researcher's ledger session: a cohort of COHORT research-consented breast-cancer records."""

    user: str = "h1-researcher-1"
    role: str = "researcher"
    grants: list[dict[str, Any]] = field(default_factory=lambda: [RESEARCH_GRANT, RECORD_GRANT, TREATMENT_GRANT])
    registered: list[dict[str, Any]] = field(default_factory=list)
    opened: list[tuple[list[str], str]] = field(default_factory=list)
    refuse: ChaincodeRefusal | None = None

    def __post_init__(self) -> None:
        self.wallet = _wallet(self.role)

    def member_id(self) -> str:
        return RESEARCHER_ID

    def grants_to_me(self) -> list[dict[str, Any]]:
        return self.grants

    def record(self, record_id: str) -> dict[str, Any]:
        if record_id == "rec-x2":
            raise NotFound("x", reason=f"record {record_id} was erased")
        return {"id": record_id, "category": "laboratory", "status": "active"}

    def open_records(self, record_ids: list[str], purpose: str = "treatment", **_: Any) -> list[Any]:
        self.opened.append((list(record_ids), purpose))
        dataset = breast_cancer()
        out: list[Any] = []
        for rid in record_ids:
            if not rid.startswith("rec-r"):
                out.append(Refused(rid, "no consent for research covers this record"))
                continue
            row = int(rid.removeprefix("rec-r"))
            features = dict(zip(dataset.features, dataset.frame.iloc[row].tolist(), strict=True))
            resource = to_observation(dataset, features, outcome=float(dataset.target.iloc[row]))
            out.append(OpenedRecord(rid, PATIENT, 1, resource, f"tx-{row}", f"{row:064x}"))
        return out

    def models(self, model_id: str = "") -> list[dict[str, Any]]:
        return [m for m in self.registered if not model_id or m["model_id"] == model_id]

    def model(self, model_id: str, version: str) -> dict[str, Any]:
        return next(m for m in self.registered if (m["model_id"], m["version"]) == (model_id, version))

    def register_model(self, card: dict[str, Any], cohort: Any = ()) -> dict[str, Any]:
        if self.refuse:
            raise self.refuse
        entry = {**card, "status": "registered", "registered_by": RESEARCHER_ID, "registered_org": H1}
        entry["registered_at"] = "2026-03-02T10:00:00Z"
        self.registered.append(entry)
        return entry

    def close(self) -> None:
        pass


class FakeBlocks:
    """Blocks 0..2 holding the trail's transactions, as a BlockReader gives them (a hash chain that holds)."""

    def __init__(self, tx_ids: list[str], tamper: bool = False) -> None:
        from careledger.ledger import header_hash

        self.chain: list[Block] = []
        previous = b""
        for number, group in enumerate((tx_ids[:1], tx_ids[1:], [])):
            data = bytes([number]) * 32
            txs = tuple(Transaction(t, "VALID", "ENDORSER_TRANSACTION") for t in group)
            block = Block(number, previous, data, b"\x00" * 32 if tamper and number == 1 else data, txs)
            self.chain.append(block)
            previous = header_hash(number, previous, data)

    def height(self) -> tuple[int, bytes]:
        return len(self.chain), self.chain[-1].header_hash

    def blocks(self, start: int, stop: int, timeout: float = 60.0) -> Iterator[Block]:
        yield from self.chain[start : stop + 1]


@dataclass
class Auditor:
    """An auditor's ledger session: a registered model (trained in `folder`), a policy, the trail."""

    folder: Path
    user: str = "ha-auditor-1"
    role: str = "auditor"
    refuse: ChaincodeRefusal | None = None
    policy: bool = True
    approved: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    asked: list[tuple[str, str]] = field(default_factory=list)
    reviews: list[tuple[str, str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.wallet = _wallet(self.role)
        self.entry = copy.deepcopy(trained_model(self.folder))
        ledger = {"n": 0, "patient_id": PATIENT, "custodian": H1, "requester_role": "clinician"}  # as the ledger lists
        events = [{**EVENT, **ledger, "tx_id": "tx-1"}, {**EMERGENCY_EVENT, **ledger, "tx_id": "tx-2"}]
        denied = {**EVENT, **ledger, "decision": "denied", "reason": "no consent covers this record"}
        events += [{**denied, "tx_id": f"tx-{i}", "time": f"2026-02-01T00:00:{i:02d}Z"} for i in range(3, 60)]
        self.events = events

    def member_id(self) -> str:
        return AUDITOR_ID

    def models(self, model_id: str = "") -> list[dict[str, Any]]:
        retired = {**self.entry, "version": "0.9.0", "status": "retired", "retired_reason": "replaced"}
        return [self.entry, retired]

    def model(self, model_id: str, version: str) -> dict[str, Any]:
        if (model_id, version) != (self.entry["model_id"], self.entry["version"]):
            raise NotFound("x", reason=f"no model {model_id}@{version}")
        return self.entry

    def approval_policy(self, model_id: str, version: int | None = None) -> dict[str, Any]:
        if not self.policy:
            raise NotFound("x", reason=f"no approval policy for {model_id}")
        return {**BREAST_CANCER, "version": 2, "set_by": AUDITOR_ID, "set_at": "2026-01-01T00:00:00Z"}

    def approve_model(self, model_id: str, version: str, reproduced: dict[str, Any]) -> dict[str, Any]:
        if self.refuse:
            raise self.refuse
        self.approved.append((model_id, version, reproduced))
        self.entry.update(status="approved", approved_by=AUDITOR_ID, approved_at="2026-03-03T00:00:00Z")
        self.entry["approval"] = {"policy_version": 2, "reproduced_sha256": "ab" * 32, "evaluation_fingerprint": "x"}
        return self.entry

    def all_access(self, page_size: int = 100) -> list[dict[str, Any]]:
        return list(self.events)

    def access_log(self, patient_id: str | None = None) -> list[dict[str, Any]]:
        self.asked.append(("patient", patient_id or ""))
        if self.refuse:
            raise self.refuse
        return self.events[:2]

    def access_by(self, requester: str) -> list[dict[str, Any]]:
        self.asked.append(("requester", requester))
        return self.events[:1]

    def grants_of(self, patient_id: str | None = None) -> list[dict[str, Any]]:
        self.asked.append(("grants", patient_id or ""))
        if self.refuse:
            raise self.refuse
        return [GRANT]

    def inferences_of(self, patient_id: str | None = None) -> list[dict[str, Any]]:
        return []

    # -- the emergency review queue (_emergency_review.py) --------------------------------------------------------
    def emergencies(self, custodian: str = "", which: str = "unreviewed") -> list[dict[str, Any]]:
        self.asked.append(("emergencies", custodian))
        reviewed = [e for e in EMERGENCIES if e["reviewed"]]
        return list(EMERGENCIES) if which == "all" else [e for e in EMERGENCIES if e not in reviewed]

    def justification(self, access_tx_id: str) -> dict[str, Any]:
        return {"access_tx_id": access_tx_id, "justification": "unconscious patient, allergy history needed now"}

    def emergency_review(self, access_tx_id: str) -> dict[str, Any] | None:
        found = next(e for e in EMERGENCIES if e["access_tx_id"] == access_tx_id)
        return found.get("review")

    def review_emergency(self, access_tx_id: str, verdict: str, note: str) -> dict[str, Any]:
        if self.refuse:
            raise self.refuse
        self.reviews.append((access_tx_id, verdict, note))
        return {**REVIEW, "access_tx_id": access_tx_id, "verdict": verdict}

    def close(self) -> None:
        pass


def research(session: Researcher | None = None, model_dir: Path | None = None) -> tuple[Browser, Researcher, Any]:
    session = session or Researcher()
    app = create_research_app(
        {
            "PROFILES": {"hospital1": "unused.json", "hospital2": "unused.json"},
            "MODEL_DIR": str(model_dir or Path(tempfile.mkdtemp(prefix="careledger-models-"))),
            "TESTING": True,
            "OPEN_SESSION": lambda org, user, passphrase: session,
        }
    )
    return Browser(app, "hospital1", session.user), session, app


def auditor(session: Auditor, tamper: bool = False) -> tuple[Browser, Auditor, Any]:
    app = create_auditor_app(
        {
            "PROFILE": "healthauthority.json",
            "MODEL_DIR": str(session.folder),
            "TESTING": True,
            "OPEN_SESSION": lambda org, user, passphrase: session,
            "BLOCK_READER": lambda _session: FakeBlocks([e["tx_id"] for e in session.events], tamper),
        }
    )
    return Browser(app, "healthauthority", session.user), session, app


def finish_jobs(app: Any) -> None:
    for thread in app.extensions["careledger.jobs"].threads:
        thread.join(timeout=120)


def job_path(response: Any) -> str:
    location = response.headers["Location"]
    assert re.search(r"/jobs/[\w-]+$", location), location
    return str(location.removeprefix(BASE))


def pages(folder: Path) -> dict[str, tuple[int, str]]:
    """Every HTML page of the researcher and auditor apps, by a name: (status, html); `folder` holds the
    models trained for them."""
    out: dict[str, tuple[int, str]] = {}

    def keep(name: str, response: Any) -> None:
        out[name] = (response.status_code, response.get_data(as_text=True))

    browser, researcher, app = research(model_dir=folder)
    for path in ("/", "/models", "/nowhere"):
        keep(f"research {path}", browser.page(path))
    keep("research training problems", browser.send("/train", {"dataset": "x", "source": "y", "seed": "-1"}))
    started = browser.send("/train", {"dataset": "breast-cancer", "source": "cohort", "seed": "7"})
    path = job_path(started)
    keep("research job running", browser.page(path))  # the job may be waiting or running yet
    finish_jobs(app)
    keep("research job done", browser.page(path))
    browser.send(f"{path}/register", {})
    keep("research models registered", browser.page("/models"))
    keep("research job registered", browser.page(path))
    researcher.grants = [RECORD_GRANT]
    failed = job_path(browser.send("/train", {"dataset": "breast-cancer", "source": "cohort", "seed": "7"}))
    finish_jobs(app)
    keep("research job failed", browser.page(failed))

    browser, session, app = auditor(Auditor(folder))
    entry = session.entry
    model_path = f"/models/{entry['model_id']}/{entry['version']}"
    for path in ("/", model_path, "/trail", "/trail?decision=denied&page=2", "/export", "/emergencies", "/nowhere"):
        keep(f"auditor {path}", browser.page(path))
    keep("auditor trail of a patient", browser.send("/trail", {"kind": "patient", "member": PATIENT}))
    keep("auditor trail form problems", browser.send("/trail", {"kind": "patient", "member": "not an id"}))
    keep("auditor export problems", browser.send("/export", {"patient": ""}))
    keep("auditor every emergency", browser.page("/emergencies?which=all"))
    keep("auditor review problems", browser.send("/emergencies", {"access_tx_id": "tx-e1", "note": "ok"}))
    check = job_path(browser.send("/trail/check", {}))
    finish_jobs(app)
    keep("auditor trail check", browser.page(check))
    session.refuse = FailedPrecondition("x", reason="policy: auc 0.91 is below the minimum 0.95")
    keep("auditor approval refused", browser.send(f"{model_path}/approve", {}))
    session.refuse, session.policy = None, False
    keep("auditor model without policy", browser.page(model_path))
    browser.send(f"{model_path}/approve", {})
    keep("auditor model approved", browser.page(model_path))
    return out
