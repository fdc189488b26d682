"""Keep one child process running: restart it when it dies, stop it when we are told to stop.

    python -m careledger_network.supervise CHILD_PID_FILE -- COMMAND...

Restarts back off from 0.5 s to 10 s and reset after a child has run for a minute. The child's PID
is written to CHILD_PID_FILE so `network-status` can show it.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType


def supervise(pid_file: Path, command: list[str]) -> int:
    stopping = False
    child: subprocess.Popen[bytes] | None = None

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            child.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    backoff = 0.5
    while not stopping:
        started = time.monotonic()
        child = subprocess.Popen(command)
        pid_file.write_text(f"{child.pid}\n")
        code = child.wait()
        if stopping:
            break
        ran = time.monotonic() - started
        backoff = 0.5 if ran > 60 else min(backoff * 2, 10.0)
        print(
            f"supervise: child exited with {code} after {ran:.1f} s; restarting in {backoff:.1f} s",
            flush=True,
        )
        deadline = time.monotonic() + backoff
        while not stopping and time.monotonic() < deadline:
            time.sleep(0.05)
    if child is not None and child.poll() is None:
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
    pid_file.unlink(missing_ok=True)
    return 0


def main() -> int:
    args = sys.argv[1:]
    if len(args) < 3 or args[1] != "--":
        print("usage: python -m careledger_network.supervise CHILD_PID_FILE -- COMMAND...", file=sys.stderr)
        return 2
    return supervise(Path(args[0]), args[2:])


if __name__ == "__main__":
    sys.exit(main())
