"""The slow-client guard: every connection's turn on a worker thread has a deadline.

A worker thread is the store's scarce resource (a fixed pool, see _serve.py). A client that opens a
connection and then trickles its TLS handshake or request headers, or stops reading our answer, would
hold a thread for as long as it likes; enough of them and no one else is served. So a turn starts with
a short deadline for the handshake and the request head; the application extends it for what it does
next (ledger questions, a body or an answer whose size it knows, at a minimum rate). A watchdog thread
shuts down the socket of a turn past its deadline, which ends the blocked read or write at once.

Outside gunicorn (the WSGI application called directly) nothing is armed and every call is a no-op.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import Any

log = logging.getLogger("careledger_store")
TICK = 0.1  # seconds between the watchdog's looks: the precision of every deadline


class Deadlines:
    def __init__(self, head_timeout: float = 5.0) -> None:
        self.head_timeout = head_timeout  # handshake + request line + headers, from the turn's start
        self._armed: dict[int, tuple[float, Any]] = {}  # thread id -> (deadline, gunicorn connection)
        self._expired: set[int] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._watch, name="store-slow-client-guard", daemon=True)
            self._thread.start()

    def arm(self, conn: Any, seconds: float) -> None:
        """This thread now serves `conn`, for at most `seconds` unless extended."""
        with self._lock:
            self._armed[threading.get_ident()] = (time.monotonic() + seconds, conn)
            self._expired.discard(threading.get_ident())

    def allow(self, seconds: float) -> None:
        """This thread's connection may take `seconds` more from now (no-op when nothing is armed)."""
        with self._lock:
            entry = self._armed.get(threading.get_ident())
            if entry is not None:
                self._armed[threading.get_ident()] = (time.monotonic() + seconds, entry[1])

    def expired(self) -> bool:
        """Whether this thread's connection was cut for being too slow."""
        return threading.get_ident() in self._expired

    def disarm(self) -> None:
        with self._lock:
            self._armed.pop(threading.get_ident(), None)
            self._expired.discard(threading.get_ident())

    def _watch(self) -> None:
        while True:
            time.sleep(TICK)
            now = time.monotonic()
            with self._lock:  # held while cutting: a disarmed connection is never touched afterwards
                for ident, (deadline, conn) in list(self._armed.items()):
                    if deadline <= now:
                        del self._armed[ident]
                        self._expired.add(ident)
                        cut(conn.sock, conn.client)


def cut(sock: Any, client: Any) -> None:
    """Shut the connection down under the thread blocked on it: its read returns end-of-file, its write
    fails. The plain socket's shutdown, not SSLSocket's, which would drop the TLS state under that thread."""
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except (OSError, TypeError):
        return  # closed already
    peer = client[0] if isinstance(client, tuple) and client else client
    log.warning("cut off a slow client at %s: it did not send or read in time", peer)


class CurrentRequest(threading.local):
    """The gunicorn request this thread serves, so the application can ask to close the connection after
    its answer (it cannot otherwise: gunicorn drops an application's Connection header)."""

    request: Any = None

    def close_after_response(self) -> None:
        if self.request is not None:
            self.request.must_close = True


GUARD = Deadlines()
CURRENT = CurrentRequest()
