"""The apps' production server: gunicorn over TLS, one worker with threads, long streams, clean SIGTERM.
Served on loopback from a child process, with a throw-away certificate."""

from __future__ import annotations

import http.client
import signal
import socket
import ssl
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from careledger_apps.serve import GRACEFUL_SECONDS, options

from .local_tls import free_port, write_tls_pair

SERVER = """
    import sys, time
    from pathlib import Path
    from flask import Response
    from careledger_apps import create_portal_app
    from careledger_apps.serve import AppServer, options
    directory, port = Path(sys.argv[1]), int(sys.argv[2])
    app = create_portal_app({"PROFILES": {"hospital1": str(directory / "h1.json")}, "GRANTEE_ORGS": []})

    def slow():  # like the live log: one response held open well past the worker timeout
        def chunks():
            for n in range(4):
                yield f"data: {n}\\n\\n"
                time.sleep(1)
        return Response(chunks(), mimetype="text/event-stream")

    app.add_url_rule("/slow", view_func=slow)
    settings = options("127.0.0.1", port, directory / "server.crt", directory / "server.key")
    AppServer(app, {**settings, "timeout": 1}).run()
"""


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], int, ssl.SSLContext]]:
    cert, _ = write_tls_pair(tmp_path, "server")
    port = free_port()
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(SERVER), str(tmp_path), str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    context = ssl.create_default_context(cafile=str(cert))
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if time.monotonic() > deadline or child.poll() is not None:
                child.kill()
                pytest.fail(f"the server did not start: {child.communicate()[0]}")
            time.sleep(0.1)
    try:
        yield child, port, context
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()


def _get(port: int, context: ssl.SSLContext, path: str) -> tuple[int, str]:
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=20)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def test_settings_one_worker_threads_tls(tmp_path: Path) -> None:
    cert, key = write_tls_pair(tmp_path, "server")
    settings = options("127.0.0.1", 8443, cert, key)
    assert settings["workers"] == 1  # sessions live in the worker's memory
    assert settings["worker_class"] == "gthread"
    assert settings["threads"] >= 32
    assert settings["graceful_timeout"] < 10  # careledger-network sends SIGKILL after 10 s
    assert settings["certfile"] == str(cert)
    assert settings["keyfile"] == str(key)
    assert settings["forwarded_allow_ips"] == ""
    assert options("::1", 8443, cert, key)["bind"] == ["[::1]:8443"]
    with pytest.raises(FileNotFoundError, match="missing"):
        options("127.0.0.1", 8443, cert, tmp_path / "no.key")


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning")
def test_serves_https_streams_past_the_worker_timeout_and_stops_on_sigterm(
    served: tuple[subprocess.Popen[str], int, ssl.SSLContext],
) -> None:
    child, port, context = served
    status, body = _get(port, context, "/login")
    assert status == 200
    assert "Sign in" in body
    started = time.monotonic()
    status, body = _get(port, context, "/slow")  # 4 s with a 1 s worker timeout
    assert status == 200
    assert body.count("data: ") == 4
    assert time.monotonic() - started >= 3

    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.check_hostname = False
    old.verify_mode = ssl.CERT_NONE
    old.minimum_version = old.maximum_version = ssl.TLSVersion.TLSv1_1
    with pytest.raises((ssl.SSLError, OSError)):
        _get(port, old, "/login")  # TLS 1.1 is refused (when this OpenSSL can even offer it)

    child.send_signal(signal.SIGTERM)
    output, _ = child.communicate(timeout=GRACEFUL_SECONDS + 10)
    assert child.returncode == 0, output
    assert "Shutting down" in output
