"""The official Node client (@hyperledger/fabric-gateway), installed from npm into bench/node on first use."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from careledger_network.paths import state_dir

from .network_cpu import NetworkCPU
from .runner import Result

NODE_DIR = Path(__file__).resolve().parents[1] / "node"


class NodeUnavailable(RuntimeError):
    pass


def ensure_installed() -> None:
    if (NODE_DIR / "node_modules" / "@hyperledger" / "fabric-gateway").is_dir():
        return
    if not shutil.which("npm") or not shutil.which("node"):
        raise NodeUnavailable("Node.js and npm are needed for the comparison with the official Node client")
    result = subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"], cwd=NODE_DIR, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise NodeUnavailable(f"npm install of @hyperledger/fabric-gateway failed: {result.stderr[-500:]}")


def run_node(workload: str, profile: Path, user: str, mode: str, fn: str, concurrency: int, operations: int) -> Result:
    ensure_installed()
    command = [
        "node", str(NODE_DIR / "load.mjs"), "--profile", str(profile), "--user", user, "--mode", mode,
        "--fn", fn, "--concurrency", str(concurrency), "--operations", str(operations),
    ]  # fmt: skip
    env = {**os.environ, "NODE_NO_WARNINGS": "1"}
    with NetworkCPU(state_dir(), settle=True) as network_cpu:
        out = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    if out.returncode != 0:
        raise NodeUnavailable(f"the Node load generator failed: {out.stderr[-500:]}")
    doc = json.loads(out.stdout.strip().splitlines()[-1])
    return Result(
        workload=workload,
        concurrency=concurrency,
        operations=doc["operations"],
        seconds=doc["seconds"],
        errors=doc["errors"],
        latencies_ms=doc["latencies_ms"],
        client_cpu_s=doc["client_cpu_s"],
        error_samples=doc["error_samples"],
        network_cpu_ms_per_op=network_cpu.per_op(doc["operations"]),
        quiet_after_s=network_cpu.quiet_after_s,
    )
