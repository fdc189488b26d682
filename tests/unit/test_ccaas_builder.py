"""Our external builder for chaincode as a service, run as the peer runs it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from careledger_network.paths import BUILDERS_DIR

BIN = BUILDERS_DIR / "ccaas" / "bin"


def _run(tool: str, *args: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / tool), *map(str, args)], capture_output=True, text=True, check=False)


def _package(tmp_path: Path, kind: str = "ccaas", connection: object = None) -> tuple[Path, Path]:
    src, meta = tmp_path / "src", tmp_path / "meta"
    src.mkdir()
    meta.mkdir()
    (meta / "metadata.json").write_text(json.dumps({"type": kind, "label": "x"}))
    if connection is not None:
        (src / "connection.json").write_text(json.dumps(connection))
    return src, meta


def test_detect_accepts_only_ccaas(tmp_path: Path) -> None:
    src, meta = _package(tmp_path)
    assert _run("detect", src, meta).returncode == 0
    (meta / "metadata.json").write_text(json.dumps({"type": "golang"}))
    assert _run("detect", src, meta).returncode == 1
    (meta / "metadata.json").write_text("{not json")
    assert _run("detect", src, meta).returncode == 1


def test_build_and_release_place_connection_json(tmp_path: Path) -> None:
    connection = {"address": "127.0.0.1:9999", "tls_required": True, "root_cert": "PEM"}
    src, meta = _package(tmp_path, connection=connection)
    (src / "META-INF" / "statedb" / "couchdb" / "indexes").mkdir(parents=True)
    (src / "META-INF" / "statedb" / "couchdb" / "indexes" / "i.json").write_text("{}")
    out, release = tmp_path / "out", tmp_path / "release"
    out.mkdir()
    release.mkdir()
    assert _run("build", src, meta, out).returncode == 0
    assert _run("release", out, release).returncode == 0
    assert json.loads((release / "chaincode" / "server" / "connection.json").read_text()) == connection
    assert (release / "statedb" / "couchdb" / "indexes" / "i.json").exists()


def test_build_refuses_a_package_without_address(tmp_path: Path) -> None:
    src, meta = _package(tmp_path, connection={"dial_timeout": "10s"})
    out = tmp_path / "out"
    result = _run("build", src, meta, out)
    assert result.returncode != 0
    assert "address" in result.stderr


def test_build_refuses_tls_without_root_cert(tmp_path: Path) -> None:
    src, meta = _package(tmp_path, connection={"address": "a:1", "tls_required": True})
    result = _run("build", src, meta, tmp_path / "out")
    assert result.returncode != 0
    assert "root_cert" in result.stderr
