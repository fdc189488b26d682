"""Authorized scoring offline: the scoring processes give exactly the serial path's inferences, refusals and
problems on the same records, and every integrity check still refuses (careledger_bench.offline makes the
records as the product does and answers for the ledger and the store)."""

from __future__ import annotations

import base64
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from careledger import crypto
from careledger.errors import IdentityError, IntegrityError
from careledger.services import SealedRecord
from careledger_bench.offline import (
    CLINICIAN,
    ORG,
    Corpus,
    FakeLedger,
    OfflineSession,
    approved_model,
    build_corpus,
    make_record,
)
from careledger_models.pool import WorkerKeys
from careledger_models.runner import ModelRunner, RunReport
from careledger_protocol import Purpose

GOOD = 36


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    made = build_corpus(GOOD, member_every=4)  # a key in four is wrapped for the clinician, the rest for the org
    for i in range(GOOD, GOOD + 4):  # records the feature schema refuses
        record = make_record(made.dataset, i, 10, _recipients(made), 0, out_of_range=True)
        made.records[record.record_id] = record
    for rid in made.ids[3:GOOD:9]:  # and records whose patients gave no consent
        made.records[rid].consent = False
    return made


def _recipients(corpus: Corpus) -> dict[str, Any]:
    return {ORG: corpus.org_key, CLINICIAN: corpus.member_key}


def _extra(corpus: Corpus, i: int, recipient_every: int = 0) -> str:
    record = make_record(corpus.dataset, 1000 + i, 10, _recipients(corpus), recipient_every, False)
    corpus.records[record.record_id] = record
    return record.record_id


@pytest.fixture(scope="module")
def model(corpus: Corpus, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    return approved_model(corpus, tmp_path_factory.mktemp("model"))


@pytest.fixture(scope="module")
def ledger(corpus: Corpus, model: tuple[Path, dict[str, Any]]) -> FakeLedger:
    return FakeLedger(corpus, model[1])


@pytest.fixture(scope="module")
def runners(ledger: FakeLedger, model: tuple[Path, dict[str, Any]]) -> Iterator[tuple[ModelRunner, ModelRunner]]:
    session = OfflineSession.of(ledger)
    artifact, entry = model
    serial = ModelRunner(session, artifact, entry["model_id"], entry["version"], batch_size=10)
    pooled = ModelRunner(session, artifact, entry["model_id"], entry["version"], batch_size=10, processes=2)
    assert pooled.pool is not None
    pooled.pool.chunk = 3  # several tasks per batch, in both processes
    yield serial, pooled
    pooled.close()
    session.close()


def _same(serial: RunReport, pooled: RunReport) -> None:
    """Equal in everything but the access transactions, which are each run's own."""
    assert [{**vars(i), "access_tx_id": ""} for i in pooled.inferences] == [
        {**vars(i), "access_tx_id": ""} for i in serial.inferences
    ]
    assert pooled.denied == serial.denied
    assert pooled.invalid == serial.invalid
    assert len(pooled.inference_tx_ids) == len(serial.inference_tx_ids)


def _recorded(ledger: FakeLedger) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return sorted(
        (({**batch, "access_tx_id": ""}, outputs) for batch, outputs in ledger.recorded),
        key=lambda r: r[0]["inferences"][0]["record_id"],
    )


def test_the_scoring_processes_give_the_serial_inferences_refusals_and_problems(
    corpus: Corpus, ledger: FakeLedger, runners: tuple[ModelRunner, ModelRunner]
) -> None:
    serial, pooled = runners
    ids = corpus.ids
    ledger.recorded.clear()
    by_serial = serial.run(ids, workers=3)
    recorded_serially = _recorded(ledger)
    ledger.recorded.clear()
    by_pool = pooled.run(ids, workers=3)

    _same(by_serial, by_pool)
    assert _recorded(ledger) == recorded_serially  # the same inference records go to the ledger
    assert len(by_pool.inferences) == GOOD - len(by_pool.denied)
    assert {rid for rid, _ in by_pool.invalid} == set(ids[GOOD:])
    assert all("outside" in problems[0] for _, problems in by_pool.invalid)  # reported, never imputed
    assert by_pool.denied
    assert all(r == "no active consent for diagnosis-ai" for _, r in by_pool.denied)
    assert {corpus.records[i.record_id].recipient for i in by_pool.inferences} == {ORG, CLINICIAN}
    for inference in by_pool.inferences:
        assert inference.ciphertext_sha256 == corpus.records[inference.record_id].ciphertext_sha256
        assert inference.access_tx_id in {b["access_tx_id"] for b, _ in ledger.recorded}


def test_outputs_and_contributions_are_xgboost_s_own_as_the_runner_computed_them_before(
    corpus: Corpus, runners: tuple[ModelRunner, ModelRunner]
) -> None:
    """One DMatrix of every row, built from a DataFrame, XGBoost's default threads: the runner's old way."""
    _, pooled = runners
    report = pooled.run(corpus.ids[:GOOD], workers=2)
    frame = corpus.dataset.frame
    rows = np.array([frame.iloc[corpus.records[i.record_id].row].tolist() for i in report.inferences])
    booster = xgb.Booster()
    booster.load_model(bytearray(pooled.booster.save_raw("json")))
    matrix = xgb.DMatrix(pd.DataFrame(rows, columns=pooled.features), feature_names=pooled.features)
    predictions, contributions = booster.predict(matrix), booster.predict(matrix, pred_contribs=True)
    for inference, prediction, contrib in zip(report.inferences, predictions, contributions, strict=True):
        assert inference.output["probability"] == round(float(prediction), 6)
        expected = {n: round(float(v), 6) for n, v in zip([*pooled.features, "bias"], contrib, strict=True)}
        assert inference.contributions == expected


def _refusal(runner: ModelRunner, ids: list[str], kind: type[Exception] = IntegrityError) -> str:
    with pytest.raises(kind) as refused:
        runner.run(ids, workers=2)
    return str(refused.value)


def test_a_tampered_ciphertext_is_refused_by_both_paths(
    corpus: Corpus, runners: tuple[ModelRunner, ModelRunner]
) -> None:
    """The ledger's hash matches the altered blob, so only the AEAD check can catch it: it does, in a process."""
    rid = _extra(corpus, 1)
    record = corpus.records[rid]
    blob = bytearray(record.blob)
    blob[len(blob) // 2] ^= 0x01
    record.blob = bytes(blob)
    record.ciphertext_sha256 = crypto.content_address(blob)
    ids = [*corpus.ids[:7], rid, *corpus.ids[7:12]]
    serial, pooled = runners
    message = _refusal(pooled, ids)
    assert message == _refusal(serial, ids)
    assert "altered" in message
    assert rid in message


def test_a_ciphertext_other_than_the_ledger_s_is_refused_before_any_process_sees_it(
    corpus: Corpus, runners: tuple[ModelRunner, ModelRunner]
) -> None:
    rid = _extra(corpus, 2)
    record = corpus.records[rid]
    record.blob = record.blob[:-1] + bytes([record.blob[-1] ^ 1])  # the store sends it; the ledger names the original
    serial, pooled = runners
    message = _refusal(pooled, [*corpus.ids[:4], rid])
    assert message == _refusal(serial, [*corpus.ids[:4], rid])
    assert "does not match the ledger's SHA-256" in message


def test_a_key_wrapped_for_another_record_is_refused_by_both_paths(
    corpus: Corpus, runners: tuple[ModelRunner, ModelRunner]
) -> None:
    rid, other = _extra(corpus, 3), _extra(corpus, 4)
    corpus.records[rid].wrapped_key = corpus.records[other].wrapped_key  # same recipient, another record
    ids = [*corpus.ids[:5], rid]
    serial, pooled = runners
    message = _refusal(pooled, ids)
    assert message == _refusal(serial, ids)
    assert "belongs to" in message
    assert other in message


def test_without_the_member_s_own_key_only_keys_wrapped_for_the_org_open(
    corpus: Corpus, ledger: FakeLedger, model: tuple[Path, dict[str, Any]]
) -> None:
    artifact, entry = model
    session = OfflineSession.of(ledger, with_member_key=False)
    org_only = [rid for rid in corpus.ids[:GOOD] if corpus.records[rid].recipient == ORG]
    member_wrapped = next(r.record_id for r in list(corpus.records.values())[:GOOD] if r.recipient != ORG and r.consent)
    serial = ModelRunner(session, artifact, entry["model_id"], entry["version"], batch_size=10)
    with ModelRunner(session, artifact, entry["model_id"], entry["version"], batch_size=10, processes=1) as pooled:
        _same(serial.run(org_only), pooled.run(org_only))
        message = _refusal(pooled, [*org_only[:3], member_wrapped], IdentityError)
        assert message == _refusal(serial, [*org_only[:3], member_wrapped], IdentityError)
        assert "no encryption key" in message


def test_private_keys_travel_once_to_each_process_never_with_a_task(corpus: Corpus, ledger: FakeLedger) -> None:
    session = OfflineSession.of(ledger)
    sealed = [
        s
        for s in session.fetch_allowed(session.request_access(corpus.ids[:10], Purpose.DIAGNOSIS_AI))
        if isinstance(s, SealedRecord)
    ]
    task = pickle.dumps(sealed)
    keys = WorkerKeys.of(session)
    for key in (corpus.org_key, corpus.member_key):
        d = key.as_dict(private=True)["d"]
        assert d.encode() not in task
        assert base64.urlsafe_b64decode(d + "=" * (-len(d) % 4)) not in task
    assert keys.org_pem is not None
    assert keys.member_pem is not None
    assert crypto.load_private_key(keys.org_pem).thumbprint() == corpus.org_key.thumbprint()
    assert keys.member_error is None
    session.close()
