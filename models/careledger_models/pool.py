"""Scoring processes: unwrapping, decryption, feature checks, prediction and digests off the runner's interpreter.

Each process is started once (spawn: a fresh interpreter, none of the parent's threads or gRPC state) and
its initializer loads what it holds for its whole life: the organization's and the member's private
encryption keys and the approved model. The keys reach it once, in memory, through the pipe that starts
it; they are never sent with a task and never written to disk. The artifact's bytes are the ones the
runner checked against the registry, hashed again here before they are loaded.

A task is a chunk of sealed records (ciphertexts already checked against the ledger's SHA-256, their
wrapped keys); the answer is what `scoring.score_sealed` gives for it, the same function the serial path
runs. An integrity failure in a process is raised again by `score` in the runner, as its own type.
"""

from __future__ import annotations

import hashlib
import math
import multiprocessing
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from careledger import crypto
from careledger.errors import CareLedgerError
from careledger.services import SealedRecord, open_sealed, unwrap_record_key
from careledger_protocol import AccessKey
from joserfc.jwk import ECKey

from .scoring import ModelSpec, Scored, load_booster, score_sealed

# Records per task at most (a batch is split evenly over the processes up to this): each task pays for a DMatrix,
# two XGBoost calls and its pickling; 125 cost 7% less CPU per record than 64, and 64 7% less than 32.
DEFAULT_CHUNK = 125


class KeyHolder(Protocol):
    """What the runner's session gives the processes: its organization key and its own encryption key."""

    org_key: ECKey | None

    def encryption_key(self) -> ECKey: ...


@dataclass(frozen=True)
class WorkerKeys:
    """Private keys as PKCS#8 PEM, in memory only; `member_error` is raised where the serial path would
    raise it (the member's key is needed only for keys wrapped for the member)."""

    org_pem: bytes | None
    member_pem: bytes | None
    member_error: CareLedgerError | None = None

    @classmethod
    def of(cls, session: KeyHolder) -> WorkerKeys:
        org = crypto.private_key_pem(session.org_key) if session.org_key is not None else None
        try:
            return cls(org, crypto.private_key_pem(session.encryption_key()))
        except CareLedgerError as exc:  # no (readable) key of the member's own: only org keys can be opened
            return cls(org, None, exc)


class _Worker:
    def __init__(self, keys: WorkerKeys, artifact: bytes, spec: ModelSpec) -> None:
        if hashlib.sha256(artifact).hexdigest() != spec.artifact_sha256:
            raise CareLedgerError("the model given to a scoring process is not the approved artifact")
        self.org_key = crypto.load_private_key(keys.org_pem) if keys.org_pem else None
        self.member_key = crypto.load_private_key(keys.member_pem) if keys.member_pem else None
        self.member_error = keys.member_error
        self.booster = load_booster(artifact)
        self.spec = spec

    def _member(self) -> ECKey:
        if self.member_key is None:
            raise self.member_error or CareLedgerError("no encryption key of the member's own")
        return self.member_key

    def _unwrap(self, entry: AccessKey, ref: crypto.RecordRef) -> bytes:
        return unwrap_record_key(entry, ref, self.org_key, self._member)

    def score(self, items: list[SealedRecord]) -> Scored:
        return score_sealed(items, lambda sealed: open_sealed(sealed, self._unwrap), self.booster, self.spec)


_worker: _Worker | None = None


def _start(keys: WorkerKeys, artifact: bytes, spec: ModelSpec) -> None:
    global _worker
    _worker = _Worker(keys, artifact, spec)


def _ready() -> float:
    return time.process_time()


def _score_chunk(items: list[SealedRecord]) -> tuple[Scored, float]:
    """The chunk's result and the CPU seconds the process spent on it."""
    if _worker is None:
        raise RuntimeError("scoring process not initialised")
    started = time.process_time()
    scored = _worker.score(items)
    return scored, time.process_time() - started


class ScoringPool:
    """`processes` scoring processes, started (and warmed up) at once; `score` is safe from many threads,
    and chunks run in the order they were submitted, so an earlier batch finishes first."""

    def __init__(
        self, keys: WorkerKeys, artifact: bytes, spec: ModelSpec, processes: int, chunk: int = DEFAULT_CHUNK
    ) -> None:
        if processes < 1 or chunk < 1:
            raise ValueError("a scoring pool needs at least one process and one record per task")
        self.processes, self.chunk = processes, chunk
        self._executor = ProcessPoolExecutor(
            processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start,
            initargs=(keys, artifact, spec),
        )
        self._warm = [self._executor.submit(_ready) for _ in range(processes)]  # starts every process now
        self._lock = threading.Lock()
        self.worker_cpu_s = 0.0  # CPU seconds the processes spent scoring

    def wait_ready(self) -> None:
        """Block until every process has started and loaded its keys and model (raises if one could not)."""
        for started in self._warm:
            started.result()

    def score(self, items: list[SealedRecord]) -> Scored:
        """The same as score_sealed(items, ...) in this interpreter, computed by the processes."""
        if not items:
            return Scored()
        per_task = min(self.chunk, math.ceil(len(items) / self.processes))
        futures: list[Future[tuple[Scored, float]]] = [
            self._executor.submit(_score_chunk, items[i : i + per_task]) for i in range(0, len(items), per_task)
        ]
        merged = Scored()
        try:
            for future in futures:  # in order: the first failure in record order is the one raised
                part, cpu = future.result()
                merged.extend(part)
                with self._lock:
                    self.worker_cpu_s += cpu
        finally:
            for future in futures:
                future.cancel()
        return merged

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
