"""Work that takes longer than a page load (training a model, checking the trail against every block), run
in the background so the request answers at once and the page shows the job's progress.

A job belongs to the account that started it (only that account sees it), runs on a thread of its own with
that account's ledger session, and reports progress as a stage in words and, where it can count, done of
total. At most one job per account runs at a time, and at most `RUNNING` in the whole app: the machines these
apps run on have few cores, and a model's training takes both the cores it may.

Jobs live in this process's memory like the sessions (`_common.SessionStore`): a restart forgets them; what
they produced (a model artifact on disk, a registration on the ledger) stays.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from ._messages import SOMETHING_FAILED

logger = logging.getLogger(__name__)

T = TypeVar("T")
RUNNING = 1  # jobs running at once in one app; the rest wait their turn
KEEP_SECONDS = 6 * 3600  # a finished job is forgotten after this long
MAX_PER_ACCOUNT = 20  # finished jobs kept per account (the oldest go first)


class JobRefused(Exception):
    """The job was not started: the message says why, in words (another job of this account is running)."""


@dataclass
class Progress:
    """Where a job is: a stage in words, and `done` of `total` when the stage can count (total 0: it cannot)."""

    stage: str = "waiting for its turn"
    done: int = 0
    total: int = 0

    @property
    def percent(self) -> int | None:
        return min(100, round(100 * self.done / self.total)) if self.total else None


@dataclass
class Job(Generic[T]):
    id: str
    owner: str
    kind: str
    title: str  # what the job does, in words, for its page
    started: float
    progress: Progress = field(default_factory=Progress)
    state: str = "waiting"  # waiting | running | done | failed
    result: T | None = None
    error: str = ""  # why it failed, in words
    finished: float = 0.0

    @property
    def over(self) -> bool:
        return self.state in ("done", "failed")

    def report(self, stage: str, done: int = 0, total: int = 0) -> None:
        """Called by the work itself, from its thread."""
        self.progress = Progress(stage, done, total)


Work = Callable[[Job[T]], T]
Explain = Callable[[Exception], str | None]


class JobBoard(Generic[T]):
    """The jobs of one app. `explain` turns an exception of the work into words for its page (None: not an
    expected failure; the page then says that something went wrong, and the log has the type only)."""

    def __init__(self, explain: Explain, clock: Callable[[], float] = time.time, running: int = RUNNING) -> None:
        self._explain = explain
        self._clock = clock
        self._jobs: dict[str, Job[T]] = {}
        self._lock = threading.Lock()
        self._turns = threading.BoundedSemaphore(running)
        self.threads: list[threading.Thread] = []  # for tests: join them

    def start(self, owner: str, kind: str, title: str, work: Work[T]) -> Job[T]:
        with self._lock:
            self._forget_old(owner)
            if any(j.owner == owner and not j.over for j in self._jobs.values()):
                raise JobRefused("a job you started is still running: wait for it to finish, then start the next")
            job: Job[T] = Job(secrets.token_urlsafe(12), owner, kind, title, self._clock())
            self._jobs[job.id] = job
        thread = threading.Thread(target=self._run, args=(job, work), name=f"careledger-job-{kind}", daemon=True)
        self.threads.append(thread)
        thread.start()
        return job

    def _run(self, job: Job[T], work: Work[T]) -> None:
        with self._turns:
            job.state = "running"
            job.report("starting")
            try:
                job.result = work(job)
                job.state = "done"
                job.report("finished")
            except Exception as exc:  # noqa: BLE001  # a job's failure is shown on its page, never raised in a thread
                explained = self._explain(exc)
                if explained is None:  # not a failure the job expects: the type only, no patient data
                    logger.warning("a %s job failed unexpectedly: %s", job.kind, type(exc).__name__)
                job.error = explained or f"{SOMETHING_FAILED.title} {SOMETHING_FAILED.advice}"
                job.state = "failed"
            finally:
                job.finished = self._clock()

    def get(self, owner: str, job_id: str) -> Job[T] | None:
        """The job, if it is this owner's (another account's job is as unknown as a job that never was)."""
        with self._lock:
            job = self._jobs.get(job_id)
        return job if job is not None and job.owner == owner else None

    def of(self, owner: str, kind: str = "") -> list[Job[T]]:
        """This owner's jobs, newest first."""
        with self._lock:
            jobs = [j for j in self._jobs.values() if j.owner == owner and (not kind or j.kind == kind)]
        return sorted(jobs, key=lambda j: -j.started)

    def _forget_old(self, owner: str) -> None:
        now = self._clock()
        for job_id in [i for i, j in self._jobs.items() if j.over and now - j.finished > KEEP_SECONDS]:
            del self._jobs[job_id]
        finished = sorted((j for j in self._jobs.values() if j.owner == owner and j.over), key=lambda j: j.started)
        for job in finished[: max(0, len(finished) - MAX_PER_ACCOUNT + 1)]:
            del self._jobs[job.id]


def explain_ledger(exc: Exception) -> str | None:
    """The words for failures every job can have: the ledger or the network."""
    from careledger.errors import ChaincodeRefusal, GatewayError

    from ._messages import NETWORK_DOWN, refusal_page

    if isinstance(exc, ChaincodeRefusal):
        page = refusal_page(exc)
        return f"{page.title} {page.advice}"
    if isinstance(exc, GatewayError):
        return f"{NETWORK_DOWN.title} {NETWORK_DOWN.advice}"
    return None
