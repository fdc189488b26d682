"""Serving the record store: gunicorn with TLS, run in-process by `python -m careledger_store`.

One worker process with a fixed pool of threads (gunicorn's gthread worker):
- one process, because the store's state lives in it: the replay cache (a nonce seen by one process
  would be news to another, so a captured request could be replayed once per worker) and its gateway
  connection to its own peer (gRPC channels are made after the fork, in the worker: they do not
  survive one). The work is mostly waiting on the ledger and the disk, which threads do well.
- `threads` requests are served at once; at most `max_connections` connections are open, the rest wait
  in the listen backlog until one closes; idle kept-alive connections wait in the poller, not on a thread.
- the slow-client guard (_guard.py) bounds how long any connection may hold a thread.
SIGTERM stops it: no new connections, requests in progress get `graceful_timeout` seconds to finish.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.workers import gthread

from ._guard import CURRENT, GUARD

WSGIApp = Callable[..., Any]
FIRST_DATA_WAIT = 0.5  # s a new connection may take to send its first byte before it waits in the poller
LINGER = 1.0  # s a closing connection is given to take our last answer and hang up


@dataclass(frozen=True)
class ServeOptions:
    listen: str  # host:port
    tls_cert: Path
    tls_key: Path
    threads: int = 32
    max_connections: int = 256
    head_timeout: float = 5.0  # TLS handshake, request line and headers, from a connection's first byte
    keepalive: int = 15  # s an idle kept-alive connection stays open (clients keep one per thread)
    graceful_timeout: int = 5  # s to finish requests in progress on SIGTERM (the orchestrator waits 10)
    name: str = "careledger-store"


class StoreWorker(gthread.ThreadWorker):  # type: ignore[misc]  # gunicorn has no type hints
    """gunicorn's thread worker, with the slow-client guard around each turn of a connection on a thread."""

    def init_process(self) -> None:
        _die_with_parent()
        if os.getppid() != self.ppid:  # the arbiter died before the line above took effect
            os._exit(1)
        GUARD.start()
        super().init_process()

    def handle(self, conn: Any) -> Any:
        # gthread holds a thread for up to 5 s waiting for a new connection's first byte; any TLS client
        # sends its hello at once, so after a short wait the connection waits in the poller instead.
        # (_DEFER is gthread's own "back to the poller" answer: private, hence gunicorn's exact pin.)
        if not conn.initialized and not conn.data_ready and not conn.wait_for_data(FIRST_DATA_WAIT):
            return gthread._DEFER
        GUARD.arm(conn, GUARD.head_timeout)
        try:
            keep = super().handle(conn)
            if keep is False:
                _linger(conn.sock)
            return keep
        finally:
            GUARD.disarm()

    def handle_request(self, req: Any, conn: Any) -> Any:
        CURRENT.request = req
        try:
            return super().handle_request(req, conn)
        finally:
            CURRENT.request = None


def _die_with_parent() -> None:
    """Ask Linux to kill this worker when the arbiter dies (say by SIGKILL): an orphaned worker would keep
    the port, and a restarted store could not bind it."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: gthread notices a dead arbiter within a second by itself


def _linger(sock: Any) -> None:
    """Close a connection the way gunicorn does (half-close, let the client read our answer and hang up),
    but here on the worker thread, bounded by LINGER: gunicorn lingers up to 2 s on its accept loop,
    where a client that never hangs up would stall every other connection."""
    try:
        sock.shutdown(socket.SHUT_WR)  # SSLSocket.shutdown also leaves TLS: what follows reads raw bytes
    except (OSError, ValueError):
        return  # closed already
    deadline, drained = time.monotonic() + LINGER, 0
    try:
        while drained < 65536 and (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            data = sock.recv(4096)
            if not data:
                break
            drained += len(data)
    except OSError:
        pass  # timed out, or reset
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RD)  # gunicorn's own lingering on the accept loop then ends at once


_contexts: dict[tuple[str, str], ssl.SSLContext] = {}
_contexts_lock = threading.Lock()


def _ssl_context(config: Any, default_factory: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
    """One TLS context for every connection: gunicorn asks for one per connection, and its default reads
    the key and certificate files each time. (A renewed certificate takes a restart.)"""
    key = (str(config.certfile), str(config.keyfile))
    with _contexts_lock:
        context = _contexts.get(key)
        if context is None:
            context = default_factory()
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            _contexts[key] = context
        return context


class StoreServer(BaseApplication):  # type: ignore[misc]  # gunicorn has no type hints
    """gunicorn run from our own command line. `build` runs in the worker process, after the fork, and
    returns the WSGI application and what to close when the worker exits."""

    def __init__(self, build: Callable[[], tuple[WSGIApp, Callable[[], None]]], options: ServeOptions) -> None:
        self.build, self.options = build, options
        self._close: Callable[[], None] = lambda: None
        GUARD.head_timeout = options.head_timeout  # inherited by the worker through the fork
        super().__init__()

    def settings(self) -> dict[str, Any]:
        o = self.options
        return {
            "bind": [o.listen],
            "workers": 1,
            "worker_class": StoreWorker,
            "threads": o.threads,
            "worker_connections": o.max_connections,
            "backlog": 256,
            "timeout": 30,  # a worker whose main loop is stuck this long is restarted
            "graceful_timeout": o.graceful_timeout,
            "keepalive": o.keepalive,
            "max_requests": 0,  # never recycle the worker: it would forget the nonces of live requests
            "limit_request_line": 2048,  # our paths are < 300 characters
            "limit_request_fields": 32,
            "limit_request_field_size": 8190,  # the certificate header is ~1.2 KB
            "certfile": str(o.tls_cert),
            "keyfile": str(o.tls_key),
            "ssl_context": _ssl_context,
            "http_protocols": "h1",
            "control_socket_disable": True,  # no gunicornc socket in $HOME, shared by every store
            "preload_app": False,  # the application (and its gRPC channel) is made in the worker
            "proc_name": o.name,
            "accesslog": None,  # the application logs each refusal with who and why
            "errorlog": "-",
            "loglevel": "info",
            "worker_exit": self._worker_exit,
        }

    def load_config(self) -> None:
        for key, value in self.settings().items():
            self.cfg.set(key, value)

    def load(self) -> WSGIApp:
        app, self._close = self.build()
        return app

    def _worker_exit(self, server: Any, worker: Any) -> None:
        self._close()
