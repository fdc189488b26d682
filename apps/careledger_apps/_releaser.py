"""The hospital's jobs that need its organization key or its admin: a thread of the hospital app that, every
RELEASE_SECONDS, hands other members the record keys only this hospital holds (wrapped for the organization), as
the ledger asks, and uploads the ciphertexts its upload outbox still holds.

1. Emergency access across hospitals: an emergency access by another hospital's clinician is allowed by the
   ledger, but only the custodian holds the record key. The thread asks the ledger which committed emergency
   accesses await a key from this hospital (ListEmergencies "awaiting-release") and re-wraps each for its
   requester (Session.release_pending_emergency_keys); the ledger accepts keys only for a committed, still open
   emergency access that awaits them.
2. Key recovery: once a person who lost their wallet registered a new key, each custodian re-wraps the keys of
   its records that person held. The thread asks the ledger whose recovery awaits this hospital
   (ListKeyRecoveriesToRewrap) and re-wraps their keys for the new key (Session.rewrap_pending_recoveries); the
   ledger accepts keys only for records on this hospital's list, wrapped for the new key.
3. The upload outbox: a record registered on the ledger whose ciphertext did not reach the hospital's record
   store (the store down, the network cut, a process killed between the two) waits in the organization's
   upload outbox (careledger.services._outbox). The thread uploads what waits there (Session.flush_outbox),
   as the admin, whom the store accepts uploads from; the store still takes only what the ledger names.
Nothing is handed out that the ledger does not name. Each round opens one session for all three jobs; a job
that fails is said in the log and the others still run; the next round tries again.

Enabled by EMERGENCY_RELEASER (the name predates the other jobs), the wallet identity of the organization's admin
(whose key is the organization key); its wallet is opened with EMERGENCY_RELEASER_PASSPHRASE when protected, and
EMERGENCY_RELEASE_SECONDS sets the period. Logs counts only, never patients.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from careledger.errors import CareLedgerError, GatewayError
from careledger.services import Session
from flask import Flask

log = logging.getLogger(__name__)
RELEASE_SECONDS = 5.0
_FAILURES = (CareLedgerError, GatewayError, OSError)  # the ledger, a peer or the wallet failed: next round
T = TypeVar("T")


@dataclass(frozen=True)
class Round:
    """What one round did: counts only."""

    released: int = 0  # record keys released to emergency requesters of other hospitals
    recovered: int = 0  # recovered members whose keys were re-wrapped for their new key
    rewrapped: int = 0  # record keys re-wrapped for them
    unfinished: int = 0  # recoveries refused or with a key that did not open: listed again next round
    uploaded: int = 0  # ciphertexts uploaded from the upload outbox to the record store
    awaiting_upload: int = 0  # ciphertexts still in the upload outbox after the round


def _job(what: str, run: Callable[[], T], nothing: T) -> T:
    try:
        return run()
    except _FAILURES as exc:
        log.warning("%s failed this round: %s", what, type(exc).__name__)
        return nothing


def run_once(open_session: Callable[[], AbstractContextManager[Session]]) -> Round:
    """One round of both jobs in one session (nothing done when the session cannot be opened: said in the log)."""
    try:
        with open_session() as session:
            released = _job(
                "emergency key release",
                lambda: sum(len(r["released"]) for r in session.release_pending_emergency_keys()),
                0,
            )
            rewraps = _job("key recovery re-wrap", session.rewrap_pending_recoveries, None)
            uploaded = _job("upload outbox flush", session.flush_outbox, 0)
            awaiting = _job("upload outbox count", session.pending_uploads, 0)
    except _FAILURES as exc:
        log.warning("the hospital's key jobs could not run this round: %s", type(exc).__name__)
        return Round()
    uploads = {"uploaded": uploaded, "awaiting_upload": awaiting}
    if rewraps is None:
        return Round(released, **uploads)
    return Round(released, rewraps.members, rewraps.keys, rewraps.failed, **uploads)


def log_round(done: Round, unfinished_before: int = 0, awaiting_before: int = 0) -> None:
    """What a round did, in counts; recoveries left unfinished, and ciphertexts left in the upload outbox, are
    said when their number changes (one that keeps failing is not repeated every round)."""
    if done.released:
        log.info("released %d record key(s) to emergency requesters of other hospitals", done.released)
    if done.rewrapped:
        log.info(
            "re-wrapped %d record key(s) for the new keys of %d recovered member(s)", done.rewrapped, done.recovered
        )
    if done.unfinished and done.unfinished != unfinished_before:
        log.warning("%d key recovery(ies) could not be re-wrapped: tried again each round", done.unfinished)
    if done.uploaded:
        log.info("uploaded %d ciphertext(s) from the upload outbox to the record store", done.uploaded)
    if done.awaiting_upload and done.awaiting_upload != awaiting_before:
        log.warning("%d ciphertext(s) wait in the upload outbox: tried again each round", done.awaiting_upload)


def start(app: Flask) -> None:
    """Have the app run the jobs when configured for it (EMERGENCY_RELEASER). The thread starts with the first
    request the app serves, in the process that serves it: gunicorn builds the app before it forks its worker,
    and neither a thread nor a gRPC channel of the parent survives into the child."""
    label = app.config.get("EMERGENCY_RELEASER")
    if not label:
        return
    profile = Path(app.config["PROFILE"])
    secret = app.config.get("EMERGENCY_RELEASER_PASSPHRASE")
    passphrase = secret.encode() if isinstance(secret, str) else None
    seconds = float(app.config.get("EMERGENCY_RELEASE_SECONDS", RELEASE_SECONDS))
    stop, started = threading.Event(), threading.Lock()
    app.extensions["careledger.emergency_releaser"] = stop  # set() stops it (tests, shutdown)

    def opened() -> Session:
        return Session.open(profile, label, passphrase, org_key_from=label)

    def loop() -> None:
        unfinished = awaiting = 0
        while not stop.wait(seconds):
            done = run_once(opened)
            log_round(done, unfinished, awaiting)
            unfinished, awaiting = done.unfinished, done.awaiting_upload

    def start_once() -> None:
        if started.acquire(blocking=False):  # the first request only; never released
            threading.Thread(target=loop, name="hospital-key-jobs", daemon=True).start()

    app.before_request(start_once)
