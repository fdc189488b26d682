"""The store's limits under hostile connections (gunicorn on loopback, 4 threads, 8 connections, a 1.5 s
head timeout, 2 s keep-alive): slow clients are cut off and idle ones closed, so a well-behaved request
is served within those limits; and SIGTERM stops the store cleanly."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .test_store_support import CA, StoreProcess

OPTIONS = {"threads": 4, "max_connections": 8, "head_timeout": 1.5, "keepalive": 2}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StoreProcess]:
    process = StoreProcess(tmp_path, [CA("Hospital1MSP")], **OPTIONS)
    yield process
    assert process.stop() == 0, process.log()
    assert "Traceback" not in process.log()


def _timed_healthz(store: StoreProcess) -> float:
    started = time.monotonic()
    assert store.request("GET", "/healthz")[0] == 200
    return time.monotonic() - started


def test_trickling_clients_are_cut_off_and_do_not_starve_others(store: StoreProcess) -> None:
    """More trickling connections than threads: each sends a byte of its request head every 0.2 s, for
    ever. Without the guard they would hold every thread and the well-behaved request would wait for
    as long as they trickle (here up to 20 s); with it they are cut off after the 1.5 s head timeout."""
    cut_after: list[float] = []

    def trickle() -> None:
        with store.connect() as sock:
            started = time.monotonic()
            try:
                for byte in b"PUT /blobs/" + b"a" * 200:
                    sock.sendall(bytes([byte]))
                    time.sleep(0.2)
                    if time.monotonic() - started > 20:
                        return
            except OSError:
                pass  # cut off
            cut_after.append(time.monotonic() - started)

    slow = [threading.Thread(target=trickle) for _ in range(6)]
    for thread in slow:
        thread.start()
    time.sleep(0.3)  # they hold the threads now
    latency = _timed_healthz(store)
    for thread in slow:
        thread.join(30)
    assert latency < 5, f"a well-behaved request waited {latency:.1f} s behind trickling clients"
    assert len(cut_after) == 6, "a trickling client was never cut off"
    assert max(cut_after) < 1.5 * 2 + 2  # at most two rounds of the head timeout (6 clients, 4 threads)
    assert store.log().count("cut off a slow client at 127.0.0.1") >= 6


def test_idle_connections_beyond_the_limit_are_closed_after_the_keepalive_timeout(store: StoreProcess) -> None:
    """Twelve connections that send nothing: the store holds at most 8 open (the rest wait in the listen
    backlog), none of them on a thread, and closes each after the keep-alive timeout; a request queued
    behind them is served once they are closed, not never."""
    idle = [socket.create_connection(("127.0.0.1", store.port)) for _ in range(12)]
    try:
        time.sleep(0.2)
        latency = _timed_healthz(store)
        assert latency < OPTIONS["keepalive"] * 2 + 3, f"a request waited {latency:.1f} s behind idle connections"
        for sock in idle:
            sock.settimeout(10)
            assert sock.recv(1) == b""  # closed by the store
    finally:
        for sock in idle:
            sock.close()


def test_clients_that_never_hang_up_after_a_refusal_do_not_stall_the_store(store: StoreProcess) -> None:
    """gunicorn lingers up to 2 s on its accept loop for a client to hang up after a closing answer; the
    store does that on the worker thread instead, for 1 s, so five such clients cost others no 10 s."""
    kept = []
    try:
        for _ in range(5):
            sock = store.connect()
            kept.append(sock)
            sock.sendall(b"PUT /blobs/" + b"b" * 64 + b" HTTP/1.1\r\nHost: s\r\nContent-Length: 90000000\r\n\r\nxx")
            sock.settimeout(5)
            assert sock.recv(12).startswith(b"HTTP/1.1 401")
        latency = _timed_healthz(store)
        assert latency < 2.5, f"a request waited {latency:.1f} s behind clients that did not hang up"
    finally:
        for sock in kept:
            sock.close()


def test_sigterm_stops_the_store_cleanly(store: StoreProcess) -> None:
    busy = store.connect()  # a kept-alive connection does not hold the stop up beyond the grace
    try:
        assert _timed_healthz(store) < 2
        started = time.monotonic()
        assert store.stop() == 0
        assert time.monotonic() - started < 8
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", store.port), timeout=2).close()
        assert "Shutting down: Master" in store.log()
    finally:
        busy.close()
