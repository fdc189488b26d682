"""The patient's model card in the portal, offline: which model ran, its status and approval, validation
for people like the patient (from the subgroup rules and the patient's own record), the result explained in
words and as a labelled chart, and the trail the ledger checked."""

from __future__ import annotations

from typing import Any

import pytest
from careledger.services import OpenedRecord
from careledger_apps import create_portal_app
from careledger_models.card import model_card
from careledger_models.datasets import breast_cancer, to_observation

from .test_apps_pages import ScriptedSession, _signed_in

NAME = "a" * 64 + ":0"
DATASET = breast_cancer()
ROW = {name: float(DATASET.frame.iloc[0][name]) for name in DATASET.features}  # a large tumour (17.99 mm)
RULES = [group.rule() for group in DATASET.subgroups]
EXPLANATION = {"bias": -0.2, "worst radius": 1.2, "mean texture": -0.4, "worst area": 0.8}


def _trace(status: str = "approved", output: Any = None) -> dict[str, Any]:
    model = {
        "model_id": "breast-cancer", "version": "1.2.0", "status": status, "task": "classification",
        "approved_by": "ha-auditor-1@HealthAuthorityMSP", "approved_at": "2026-11-01T10:00:00.000000Z",
        "approval": {"policy_version": 3, "reproduced_sha256": "b" * 64, "evaluation_fingerprint": "c" * 64},
        "metrics": {"auc": 0.99, "accuracy": 0.96},
        "subgroup_metrics": {
            "radius-small": {"auc": 0.7, "accuracy": 0.98}, "radius-large": {"auc": 0.98, "accuracy": 0.91},
        },
        "training": {"data_source": "scikit-learn:breast-cancer", "seed": 7, "subgroups": RULES},
        "retired_at": "2026-11-20T00:00:00.000000Z", "retired_reason": "recalled: drift",
    }  # fmt: skip
    inference = {
        "tx_id": "a" * 64, "n": 0, "record_id": "rec-1", "time": "2026-11-02T09:00:00.000000Z",
        "requester": "h2-clinician-1@Hospital2MSP", "ciphertext_sha256": "d" * 64,
        "output": {"label": "positive", "probability": 0.97} if output is None else output,
        "explanation": EXPLANATION,
    }  # fmt: skip
    links = [{"link": name, "ok": True, "detail": f"{name} checked"} for name in ("inference", "model", "approval")]
    return {"inference": inference, "model": model, "links": links}


class CardSession(ScriptedSession):
    def __init__(self, trace: dict[str, Any]) -> None:
        super().__init__()
        self.trace = trace
        self.opened: list[str] = []
        self.reviewed = True

    def trace_inference(self, inference_id: str) -> dict[str, Any]:
        assert inference_id == NAME
        return self.trace

    def inference_reviews(self, inference_id: str) -> dict[str, Any]:
        review = {"decision": "override", "reviewer": "h2-clinician-1@Hospital2MSP", "time": "2026-11-03T08:00:00Z",
                  "override": 0, "reason": "the biopsy was benign"}  # fmt: skip
        return {"inference_id": inference_id, "status": "overridden", "reviews": [review] if self.reviewed else []}

    def open_records(self, record_ids: list[str], purpose: str) -> list[OpenedRecord]:
        self.opened += record_ids
        return [OpenedRecord("rec-1", "h1-patient-1@Hospital1MSP", 1, to_observation(DATASET, ROW), "e" * 64, "d" * 64)]


def test_the_card_says_what_ran_how_well_it_did_for_people_like_me_and_why() -> None:
    card = model_card(CardSession(_trace()), NAME)  # type: ignore[arg-type]
    assert card.status == "in use"
    assert card.oversight == (
        "overridden by h2-clinician-1@Hospital2MSP on 2026-11-03, whose own result is 0: “the biopsy was benign”"
    )
    assert card.like_you == {"radius-large": {"auc": 0.98, "accuracy": 0.91}}  # 17.99 mm is a large tumour
    assert [name for name, _ in card.contributions] == ["worst radius", "worst area", "mean texture"]
    assert card.sentence == (
        "The model gave the result “positive”, with 97% probability. What raised it most: worst radius and "
        "worst area. What lowered it most: mean texture."
    )


def test_a_recalled_model_and_an_erased_result_are_said_plainly() -> None:
    trace = _trace(status="retired", output={})
    trace["inference"]["output"] = None
    card = model_card(CardSession(trace), NAME)  # type: ignore[arg-type]
    assert card.status == "retired on 2026-11-20: recalled: drift"
    assert card.sentence == "The result is no longer kept: the record was erased."


def test_another_version_of_the_record_places_nobody_in_a_group() -> None:
    session = CardSession(_trace())
    session.trace["inference"]["ciphertext_sha256"] = "f" * 64  # the model saw a version that is gone
    assert model_card(session, NAME).like_you == {}  # type: ignore[arg-type]


@pytest.fixture
def portal() -> tuple[Any, CardSession]:
    session = CardSession(_trace())
    app = create_portal_app(
        {
            "PROFILES": {"hospital1": "unused.json"},
            "GRANTEE_ORGS": ["Hospital1MSP"],
            "TESTING": True,
            "OPEN_SESSION": lambda org, user, passphrase: session,
        }
    )
    return app.test_client(), session


def test_the_portal_page_shows_the_card_with_a_labelled_chart(portal: tuple[Any, CardSession]) -> None:
    client, session = portal
    _signed_in(client)
    page = client.get(f"/models/{NAME}", base_url="https://localhost").get_data(as_text=True)
    assert "under approval policy version 3" in page
    assert "People like you (radius-large)" in page
    assert 'aria-labelledby="chart-caption"' in page
    assert "in log-odds: red bars raised it, blue bars lowered it" in page
    assert "worst radius" in page
    assert session.opened == ["rec-1"]


def test_a_recalled_model_that_ran_on_my_data_is_said_at_the_top_of_my_models(portal: tuple[Any, CardSession]) -> None:
    client, session = portal
    inference = session.trace["inference"]
    retired = {**session.trace["model"], "status": "retired"}
    session.inferences_of = lambda: [{**inference, "model_id": "breast-cancer", "version": "1.2.0"}]  # type: ignore[method-assign]
    session.model = lambda model_id, version: retired  # type: ignore[attr-defined]
    _signed_in(client)
    page = client.get("/models", base_url="https://localhost").get_data(as_text=True)
    assert "breast-cancer 1.2.0 is retired: recalled: drift" in page
    assert f'href="/models/{NAME}"' in page
    session.model = lambda model_id, version: {**retired, "status": "approved"}  # type: ignore[attr-defined]
    assert "No longer in use" not in client.get("/models", base_url="https://localhost").get_data(as_text=True)


class OutcomeSession(CardSession):
    def __init__(self, trace: dict[str, Any]) -> None:
        super().__init__(trace)
        self.recorded: list[tuple[str, float, list[str]]] = []

    def record_outcome(self, inference_id: str, value: float, subgroups: list[str]) -> dict[str, Any]:
        self.recorded.append((inference_id, value, list(subgroups)))
        about = {"inference_id": inference_id, "model_id": "breast-cancer", "version": "1.2.0"}
        return {"outcome": about, "model_status": "approved"}


def _outcome_cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Any, session: Any, *args: str) -> Any:
    from contextlib import contextmanager

    from careledger.cli import _base, main
    from click.testing import CliRunner

    @contextmanager
    def connected(self: Any) -> Any:
        yield session

    monkeypatch.setattr(_base.Context, "session", connected)
    profile = tmp_path / "profile.json"
    profile.write_text("{}")
    return CliRunner().invoke(main, ["--profile", str(profile), "--user", "u", "inference", "outcome", NAME, *args])


def test_an_outcome_counts_for_the_subgroups_the_record_puts_the_patient_in(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    session = OutcomeSession(_trace())
    done = _outcome_cli(monkeypatch, tmp_path, session, "--value", "1")
    assert done.exit_code == 0, done.output
    assert session.recorded == [(NAME, 1, ["radius-large"])]  # from the record's 17.99 mm, by the registered rule
    assert "counted for the subgroups: radius-large" in done.output
    session = OutcomeSession(_trace())
    assert _outcome_cli(monkeypatch, tmp_path, session, "--value", "0", "--subgroup", "radius-small").exit_code == 0
    assert session.recorded == [(NAME, 0, ["radius-small"])]
    assert session.opened == []  # named: the record stays shut


def test_an_outcome_whose_record_cannot_be_opened_asks_for_the_subgroups(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    trace = _trace()
    trace["inference"]["ciphertext_sha256"] = "f" * 64  # a newer version replaced the one the model saw
    session = OutcomeSession(trace)
    refused = _outcome_cli(monkeypatch, tmp_path, session, "--value", "1")
    assert refused.exit_code == 2
    assert "name them with --subgroup" in refused.output
    assert session.recorded == []
