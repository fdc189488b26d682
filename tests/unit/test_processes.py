from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest
from careledger_network.processes import ProcessError, ProcessTable, port_holder


def test_start_track_and_stop_by_pid(tmp_path: Path) -> None:
    table = ProcessTable(tmp_path)
    proc = table.start("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"], {}, ports=[])
    assert proc.alive()
    assert table.load()["sleeper"].pid == proc.pid
    with pytest.raises(ProcessError, match="already running"):
        table.start("sleeper", [sys.executable, "-c", "pass"], {}, ports=[])
    assert table.stop("sleeper") is True
    assert not proc.alive()
    assert "sleeper" not in table.load()
    assert table.stop("sleeper") is False


def test_a_recycled_pid_is_not_ours(tmp_path: Path) -> None:
    table = ProcessTable(tmp_path)
    proc = table.start("short", [sys.executable, "-c", "pass"], {}, ports=[])
    proc.start_ticks += 1  # as if the PID now belonged to a process started at another time
    assert not proc.alive()
    table.stop("short")


def test_stop_escalates_to_sigkill(tmp_path: Path) -> None:
    table = ProcessTable(tmp_path)
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('up', flush=True)\ntime.sleep(60)"
    proc = table.start("stubborn", [sys.executable, "-c", code], {}, ports=[])
    log = tmp_path / "logs" / "stubborn.log"
    for _ in range(100):
        if "up" in log.read_text():
            break
        import time

        time.sleep(0.05)
    assert table.stop("stubborn", timeout=0.5) is True
    assert not proc.alive()


def test_port_holder_names_the_listening_process() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        holder = port_holder(port)
        assert holder is not None
        assert "PID" in holder
        assert "python" in holder
    assert port_holder(port) is None


def test_log_tail(tmp_path: Path) -> None:
    table = ProcessTable(tmp_path)
    table.start("talker", [sys.executable, "-c", "print('\\n'.join(str(i) for i in range(100)))"], {}, ports=[])
    import time

    time.sleep(0.5)
    tail = table.tail("talker", lines=3)
    assert tail.splitlines() == ["97", "98", "99"]
    table.stop("talker")
