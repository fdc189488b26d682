"""The hospital's side of emergency access across hospitals: a thread of the hospital app that releases, with the
organization key, the keys other hospitals' emergency requesters await from this hospital.

An emergency access by another hospital's clinician is allowed by the ledger, but only this hospital holds the
record key (wrapped for the organization). Every RELEASE_SECONDS the thread asks the ledger which committed
emergency accesses await a key from this hospital (ListEmergencies "awaiting-release", as the admin) and re-wraps
each for its requester (Session.release_pending_emergency_keys): nothing is released that the ledger does not
name, and the ledger accepts keys only for a committed, still open emergency access that awaits them.

Enabled by EMERGENCY_RELEASER, the wallet identity of the organization's admin (whose key is the organization
key); its wallet is opened with EMERGENCY_RELEASER_PASSPHRASE when protected. Logs counts only, never patients.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from careledger.errors import CareLedgerError, GatewayError
from careledger.services import Session
from flask import Flask

log = logging.getLogger(__name__)
RELEASE_SECONDS = 5.0


def release_once(open_session: Callable[[], AbstractContextManager[Session]]) -> int:
    """One round: the records whose keys were released (0 when the ledger or the wallet failed: said in the log)."""
    try:
        with open_session() as session:
            return sum(len(r["released"]) for r in session.release_pending_emergency_keys())
    except (CareLedgerError, GatewayError, OSError) as exc:
        log.warning("emergency key release failed this round: %s", type(exc).__name__)
        return 0


def start(app: Flask) -> None:
    """Have the app run the releaser when configured for it (EMERGENCY_RELEASER). The thread starts with the
    first request the app serves, in the process that serves it: gunicorn builds the app before it forks its
    worker, and neither a thread nor a gRPC channel of the parent survives into the child."""
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
        while not stop.wait(seconds):
            released = release_once(opened)
            if released:
                log.info("released %d record key(s) to emergency requesters of other hospitals", released)

    def start_once() -> None:
        if started.acquire(blocking=False):  # the first request only; never released
            threading.Thread(target=loop, name="emergency-key-releaser", daemon=True).start()

    app.before_request(start_once)
