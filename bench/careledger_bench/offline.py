"""Authorized scoring without a network: records made as the product makes them, and a session whose ledger
and record store answer from memory.

Records are seeded rows of a scikit-learn dataset as FHIR Observations (with their outcome, like
careledger_models.seed): validated, canonical JSON, sealed under a fresh key bound to record, patient and
version, the key wrapped (JWE, ECDH-ES+A256KW) for the organization's key or, one record in
`member_every`, for the clinician's own. `OfflineSession` is a real `Session` in everything but its two
transports: `_submit`/`_evaluate` answer from `FakeLedger` and its store's `_call` from memory. So
request_access, fetch_allowed (the ledger's SHA-256 checked against each ciphertext), access_keys, decrypt,
record_inferences and their JSON run as they do against the network.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from careledger import crypto, fhir
from careledger.json_types import JsonArgument, Transient
from careledger.services import Session
from careledger.store import StoreClient
from careledger_models.datasets import DATASETS, Dataset, to_observation
from joserfc.jwk import ECKey

HOSPITAL = "Hospital1MSP"
ORG = f"org:{HOSPITAL}"
CLINICIAN = f"h1-clinician-1@{HOSPITAL}"
APPROVED_VERSION = "1.0.0"


@dataclass
class Stored:
    """One record as the ledger and the custodian's store hold it."""

    record_id: str
    patient_id: str
    row: int
    recipient: str
    wrapped_key: dict[str, Any]
    blob: bytes
    ciphertext_sha256: str  # what the ledger says (tests may make it disagree with the blob)
    consent: bool = True  # False: the access decision denies it


@dataclass
class Corpus:
    dataset: Dataset
    org_key: ECKey
    member_key: ECKey
    records: dict[str, Stored]

    @property
    def ids(self) -> list[str]:
        return list(self.records)


# -- making records ---------------------------------------------------------------------------------------------
_validated: dict[tuple[str, int, bool], bytes] = {}


def plaintext(dataset: Dataset, row: int, out_of_range: bool = False) -> bytes:
    """The canonical bytes of a row's validated Observation (validated once per row and process)."""
    if (dataset.name, row, out_of_range) not in _validated:
        features = dict(zip(dataset.features, dataset.frame.iloc[row].tolist(), strict=True))
        if out_of_range:  # a record the feature schema refuses: scored by no path
            features[dataset.features[0]] = 1e9
        observation = to_observation(dataset, features, outcome=float(dataset.target.iloc[row]))
        _validated[(dataset.name, row, out_of_range)] = fhir.canonical_bytes(fhir.validate(observation))
    return _validated[(dataset.name, row, out_of_range)]


def make_record(
    dataset: Dataset, i: int, patients: int, recipients: dict[str, ECKey], member_every: int, out_of_range: bool
) -> Stored:
    """Record i as RecordFlows.create_record makes it: validate, seal under a fresh key, wrap the key."""
    row = i % len(dataset.frame)
    record_id = f"rec-{uuid.uuid5(uuid.NAMESPACE_OID, str(i)).hex}"  # the shape of create_record's ids
    ref = crypto.RecordRef(record_id, f"h1-sp-{i % patients:05d}@{HOSPITAL}", 1)
    key = crypto.new_record_key()
    blob = bytes(crypto.seal(plaintext(dataset, row, out_of_range), key, ref))
    recipient = CLINICIAN if member_every and i % member_every == member_every - 1 else ORG
    wrapped = crypto.wrap_key(key, ref, recipients[recipient])
    return Stored(ref.record_id, ref.patient_id, row, recipient, wrapped, blob, crypto.content_address(blob))


def _make_range(
    dataset_name: str, start: int, stop: int, patients: int, public: dict[str, dict[str, Any]], member_every: int
) -> list[Stored]:
    dataset = DATASETS[dataset_name]()
    recipients = {who: crypto.import_public_jwk(jwk) for who, jwk in public.items()}
    return [make_record(dataset, i, patients, recipients, member_every, False) for i in range(start, stop)]


def build_corpus(
    n: int, dataset_name: str = "breast-cancer", member_every: int = 5, processes: int = 1, patients: int = 0
) -> Corpus:
    """n records over n/10 patients (at least 10), made in `processes` processes when more than one."""
    dataset = DATASETS[dataset_name]()
    org_key, member_key = crypto.new_encryption_key(), crypto.new_encryption_key()
    public = {ORG: crypto.public_jwk(org_key), CLINICIAN: crypto.public_jwk(member_key)}
    patients = patients or max(10, n // 10)
    if processes <= 1 or n < 200:
        made = _make_range(dataset_name, 0, n, patients, public, member_every)
    else:
        step = math.ceil(n / (processes * 4))
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(processes, mp_context=spawn) as pool:
            parts = [
                pool.submit(_make_range, dataset_name, s, min(s + step, n), patients, public, member_every)
                for s in range(0, n, step)
            ]
            made = [record for part in parts for record in part.result()]
    return Corpus(dataset, org_key, member_key, {r.record_id: r for r in made})


# -- the ledger and the store, in memory ----------------------------------------------------------------------
@dataclass
class FakeLedger:
    """Answers the chaincode functions the runner calls, as JSON bytes, from the corpus; `busy_s` is the
    CPU time spent making answers (the network's share, not the client's)."""

    corpus: Corpus
    model: dict[str, Any]
    recorded: list[tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=list)  # (batch, outputs)
    busy_s: float = 0.0
    _access: dict[str, list[str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _count: int = 0

    def _tx(self) -> str:
        with self._lock:
            self._count += 1
            return f"{self._count:064x}"

    @contextmanager
    def _busy(self) -> Iterator[None]:
        started = time.thread_time()  # this thread's CPU: answers are made in the threads that ask
        try:
            yield
        finally:
            with self._lock:
                self.busy_s += time.thread_time() - started

    def answer(self, function: str, args: list[str], transient: dict[str, bytes] | None) -> bytes:
        with self._busy():
            if function == "GetModel":
                return json.dumps(self.model).encode()
            if function == "RequestAccess":
                return self._request_access(json.loads(args[0]))
            if function == "GetAccessKeys":
                return self._access_keys(args[0])
            if function == "RecordInferences":
                batch, outputs = json.loads(args[0]), json.loads((transient or {})["outputs"])
                with self._lock:
                    self.recorded.append((batch, outputs))
                return json.dumps({"tx_id": self._tx(), "count": len(batch["inferences"])}).encode()
        raise NotImplementedError(f"the offline ledger does not answer {function}")

    def _request_access(self, request: dict[str, Any]) -> bytes:
        tx = self._tx()
        decisions: list[dict[str, Any]] = []
        for rid in request["record_ids"]:
            record = self.corpus.records.get(rid)
            if record is None or not record.consent:
                why = "no such record" if record is None else "no active consent for diagnosis-ai"
                decisions.append({"record_id": rid, "decision": "denied", "reason": why})
            else:
                decisions.append(
                    {
                        "record_id": rid,
                        "decision": "allowed",
                        "reason": "consent",
                        "custodian": HOSPITAL,
                        "version": 1,
                        "key_available": True,
                    }
                )
        with self._lock:
            self._access[tx] = [d["record_id"] for d in decisions if d["decision"] == "allowed"]
        doc = {
            "tx_id": tx,
            "time": "2026-01-01T00:00:00Z",
            "open_until": "2026-01-01T00:05:00Z",
            "purpose": request["purpose"],
            "emergency": False,
            "decisions": decisions,
        }
        return json.dumps(doc).encode()

    def _access_keys(self, tx: str) -> bytes:
        keys = {}
        for rid in self._access[tx]:
            r = self.corpus.records[rid]
            keys[rid] = {
                "available": True,
                "recipient": r.recipient,
                "wrapped_key": r.wrapped_key,
                "version": 1,
                "patient_id": r.patient_id,
                "sealed_for": r.patient_id,
                "custodian": HOSPITAL,
                "locator": f"{HOSPITAL}/sha256/{r.ciphertext_sha256}",
                "ciphertext_sha256": r.ciphertext_sha256,
            }
        return json.dumps({"access_tx_id": tx, "purpose": "diagnosis-ai", "keys": keys}).encode()

    def blobs(self, request: dict[str, Any]) -> bytes:
        """The store's answer to POST /blobs:fetch: a 4-byte index length, the JSON index, the blobs."""
        with self._busy():
            found = [self.corpus.records[rid] for rid in request["records"]]
            index = json.dumps(
                [
                    {
                        "record_id": r.record_id,
                        "granted": True,
                        "size": len(r.blob),
                        "address": crypto.content_address(r.blob),
                    }
                    for r in found  # the store names what it sends; the client checks it against the ledger
                ]
            ).encode()
            return b"".join([len(index).to_bytes(4, "big"), index, *(r.blob for r in found)])


@dataclass
class OfflineStore(StoreClient):
    ledger: FakeLedger | None = None

    def __post_init__(self) -> None:  # no TLS: nothing is sent
        pass

    def _call(self, method: str, path: str, body: bytes | bytearray = b"") -> bytes:
        if self.ledger is None or method != "POST" or not path.startswith("/blobs:fetch"):
            raise NotImplementedError(f"the offline store does not answer {method} {path}")
        return self.ledger.blobs(json.loads(body))


@dataclass
class OfflineSession(Session):
    ledger: FakeLedger | None = None

    @classmethod
    def of(cls, ledger: FakeLedger, with_member_key: bool = True) -> OfflineSession:
        none: Any = None
        session = cls(Path("offline"), "h1-clinician-1", none, none, none, none, ledger=ledger)
        session.org_key = ledger.corpus.org_key
        session._encryption_key = ledger.corpus.member_key if with_member_key else None
        session._member_id = CLINICIAN
        return session

    def encryption_key(self) -> ECKey:
        if self._encryption_key is None:
            from careledger.errors import IdentityError

            raise IdentityError(f"{self.user} has no encryption key in the offline wallet")
        return self._encryption_key

    def _submit(self, function: str, *args: JsonArgument, transient: Transient | None = None) -> Any:
        return self._call(function, args, transient)

    def _evaluate(self, function: str, *args: JsonArgument) -> Any:
        return self._call(function, args, None)

    def _call(self, function: str, args: tuple[JsonArgument, ...], transient: Transient | None) -> Any:
        """What SessionCore sends and reads back: JSON-encoded arguments and transient data, a JSON answer."""
        from careledger.services._core import _encode_transient

        assert self.ledger is not None
        encoded = [a if isinstance(a, str) else json.dumps(a, sort_keys=True) for a in args]
        raw = self.ledger.answer(function, encoded, _encode_transient(transient))
        return json.loads(raw) if raw else None

    def store(self, custodian_msp: str) -> StoreClient:
        if custodian_msp not in self._stores:
            self._stores[custodian_msp] = OfflineStore("offline", b"", cast(Any, None), ledger=self.ledger)
        return self._stores[custodian_msp]

    def close(self) -> None:
        if self._fetch_pool is not None:
            self._fetch_pool.shutdown(wait=True)


def approved_model(corpus: Corpus, out_dir: Path, seed: int = 31) -> tuple[Path, dict[str, Any]]:
    """A model trained on the corpus's dataset (careledger_models.train) and its registry entry, approved."""
    from careledger_models.train import train

    trained = train(corpus.dataset, seed=seed, out_dir=out_dir)
    return trained.artifact, {**trained.card, "version": APPROVED_VERSION, "status": "approved"}
