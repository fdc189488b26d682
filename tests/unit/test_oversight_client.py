"""The client side of model oversight: the Session's typed methods and the `careledger inference review|reviews|
outcome` and `careledger model use|performance` commands, run against the in-memory ledger."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from careledger.cli import _base, main
from careledger.services import Session
from click.testing import CliRunner

from .chaincode_helpers import Actor, World
from .test_contract_models import MODEL
from .test_contract_oversight import REASON, _scene


class LedgerContract:
    """The gateway's Contract for one actor, answered by the in-memory ledger; keeps what each call sent."""

    def __init__(self, actor: Actor) -> None:
        self.actor = actor
        self.sent: list[tuple[str, tuple[str, ...], dict[str, bytes]]] = []

    def submit_transaction(self, function: str, *args: str, transient: dict[str, bytes] | None = None) -> bytes:
        return self._call(function, args, transient or {})

    def evaluate_transaction(self, function: str, *args: str) -> bytes:
        return self._call(function, args, {})

    def _call(self, function: str, args: tuple[str, ...], transient: dict[str, bytes]) -> bytes:
        self.sent.append((function, args, transient))
        outcome = self.actor.ledger.invoke(self.actor.identity, function, *args, transient=transient)
        if outcome.status != 200:
            raise RuntimeError(outcome.message)
        return outcome.payload


def _session(actor: Actor) -> Session:
    contract = LedgerContract(actor)
    return Session(Path("p.json"), actor.local_id, gateway=None, contract=contract, deployment=None, wallet=None)  # type: ignore[arg-type]


@pytest.fixture
def w() -> World:
    return World()


def test_the_session_sends_reasons_and_outcomes_as_transient_data_with_a_fresh_salt(w: World) -> None:
    names = _scene(w, records=2, monitoring={"min_outcomes": 1, "min_metrics": {"accuracy": 0.6}})
    clinician = _session(w.dr_h2)
    confirmed = clinician.review_inference(names[0], REASON)
    overridden = clinician.review_inference(names[1], REASON, override=0)
    assert (confirmed["decision"], overridden["decision"]) == ("confirm", "override")
    sent = clinician.contract.sent  # type: ignore[attr-defined]
    (_, args_1, transient_1), (_, _, transient_2) = sent
    assert REASON not in "".join(args_1)
    assert transient_1["reason"] == REASON.encode()
    assert "override" not in transient_1
    assert json.loads(transient_2["override"]) == 0
    assert len(transient_1["salt"]) == 32
    assert transient_1["salt"] != transient_2["salt"]
    assert clinician.record_outcome(names[0], 1, ["large-tumours"])["model_status"] == "approved"
    suspended = clinician.record_outcome(names[1], 0)
    assert (suspended["model_status"], "suspended_reason" in suspended) == ("suspended", True)
    assert sent[-1][2]["outcome"] == b'{"subgroups": [], "value": 0}'
    patient = _session(w.alice)
    assert patient.inference_reviews(names[1])["reviews"][0]["reason"] == REASON
    auditor = _session(w.auditor)
    assert auditor.model_use(MODEL, "1.0.0")["reviewed"] == 2
    assert auditor.model_performance(MODEL, "1.0.0")["all_time"]["overall"]["outcomes"] == 2


def _cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, actor: Actor | None, *args: str) -> Any:
    """Run `careledger --json? ...` as the actor (None: connecting fails the test)."""

    @contextmanager
    def session(self: _base.Context) -> Iterator[Session]:
        assert actor is not None, "the command connected before checking its arguments"
        yield _session(actor)

    monkeypatch.setattr(_base.Context, "session", session)
    profile = tmp_path / "profile.json"
    profile.write_text("{}")
    return CliRunner().invoke(main, ["--profile", str(profile), "--user", "u", *args])


def test_the_commands_review_record_outcomes_and_show_use_and_performance(
    w: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    names = _scene(w, records=2, monitoring={"min_outcomes": 1, "min_metrics": {"accuracy": 0.6}})
    done = _cli(monkeypatch, tmp_path, w.dr_h2, "inference", "review", names[0], "--confirm", "--reason", REASON)
    assert done.exit_code == 0, done.output
    assert f"{names[0]} confirmed by {w.dr_h2.id}" in done.output
    done = _cli(monkeypatch, tmp_path, w.dr_h2, "inference", "review", names[1], "--override", "0", "--reason", REASON)
    assert "overridden" in done.output
    for wrong in ([], ["--confirm", "--override", "1"]):
        refused = _cli(monkeypatch, tmp_path, None, "inference", "review", names[0], *wrong, "--reason", REASON)
        assert refused.exit_code == 2
        assert "either --confirm or --override" in refused.output
    done = _cli(
        monkeypatch, tmp_path, w.dr_h2, "inference", "outcome", names[0], "--value", "1", "--subgroup", "large-tumours"
    )
    assert done.exit_code == 0, done.output
    assert "is approved" in done.output
    done = _cli(monkeypatch, tmp_path, w.dr_h2, "inference", "outcome", names[1], "--value", "0")
    assert "SUSPENDED: approval policy v1 monitoring: live accuracy 0.5 over 2 outcomes is below" in done.output
    refused = _cli(monkeypatch, tmp_path, w.dr_h2, "inference", "outcome", names[1], "--value", "0")
    assert refused.exit_code != 0
    done = _cli(monkeypatch, tmp_path, w.alice, "inference", "reviews", names[1])
    assert f"override by {w.dr_h2.id} (result 0): {REASON}" in done.output
    assert "outcome recorded" in done.output
    done = _cli(monkeypatch, tmp_path, w.auditor, "model", "use", MODEL, "1.0.0")
    assert "2 inferences from" in done.output
    assert "2 reviewed (1 confirmed, 1 overridden)" in done.output
    done = _cli(monkeypatch, tmp_path, w.researcher, "model", "performance", MODEL, "1.0.0")
    assert "all time: 2 outcomes: accuracy=0.5" in done.output
    assert "large-tumours: 1 outcomes: accuracy=1.0" in done.output
    as_json = _cli(monkeypatch, tmp_path, w.auditor, "--json", "model", "performance", MODEL, "1.0.0")
    assert json.loads(as_json.output)["policy_version"] == 1
