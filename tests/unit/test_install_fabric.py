"""`make fabric`'s install chain, offline: release-layout tarballs built here whose 'binaries' are scripts
that report a version, a real HTTP server on loopback for the release-asset download."""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from careledger_network import install as installer
from careledger_network.paths import FABRIC_BINARIES, FABRIC_CA_VERSION, FABRIC_VERSION
from careledger_network.release_archives import asset_names, platform_name

FABRIC_ASSET, CA_ASSET = asset_names(platform_name())
UNREACHABLE = "http://127.0.0.1:9"  # the discard port: connection refused at once


def _script(version: str) -> bytes:
    return f"#!/bin/sh\nprintf 'x:\\n Version: {version}\\n Go version: go1\\n'\n".encode()


def _add(archive: tarfile.TarFile, name: str, content: bytes, mode: int) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(content), mode
    archive.addfile(info, io.BytesIO(content))


def _tarball(path: Path, files: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as archive:
        for name, content in files.items():
            _add(archive, name, content, 0o755 if name.startswith("bin/") else 0o644)


def make_dist(directory: Path, fabric_version: str = FABRIC_VERSION, with_sums: bool = True) -> Path:
    """Both release tarballs (and their SHA256SUMS) as the official assets lay them out."""
    directory.mkdir(parents=True, exist_ok=True)
    fabric_bins = [b for b in FABRIC_BINARIES if not b.startswith("fabric-ca")]
    _tarball(
        directory / FABRIC_ASSET,
        {f"bin/{b}": _script(fabric_version) for b in fabric_bins}
        | {f"config/{c}": b"# sample\n" for c in ("core.yaml", "orderer.yaml", "configtx.yaml")},
    )
    _tarball(
        directory / CA_ASSET, {f"bin/{b}": _script(FABRIC_CA_VERSION) for b in ("fabric-ca-server", "fabric-ca-client")}
    )
    if with_sums:
        lines = [f"{hashlib.sha256((directory / n).read_bytes()).hexdigest()}  {n}" for n in (FABRIC_ASSET, CA_ASSET)]
        (directory / "SHA256SUMS").write_text("\n".join(lines) + "\n")
    return directory


class Run:
    def __init__(self, tmp_path: Path, **env: str) -> None:
        self.home = tmp_path / "fabric-home"
        self.env = {"FABRIC_HOME": str(self.home), "FABRIC_RELEASES_URL": UNREACHABLE, "PATH": "", **env}
        self.lines: list[str] = []

    def __call__(self) -> int:
        self.lines.clear()
        return installer.install(self.env, self.lines.append)

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def installed(self) -> list[str]:
        return sorted(p.name for p in self.home.iterdir() if not p.name.startswith(".")) if self.home.exists() else []


def test_good_tarballs_install_and_pass_the_version_check(tmp_path: Path) -> None:
    run = Run(tmp_path, FABRIC_DIST_DIR=str(make_dist(tmp_path / "dist")))
    assert run() == 0, run.output
    assert "checked against SHA256SUMS" in run.output
    assert run.installed() == ["bin", "config"]
    assert sorted(p.name for p in (run.home / "bin").iterdir()) == sorted(FABRIC_BINARIES)
    assert not list(run.home.glob(".staging-*"))
    assert run() == 0
    assert run.lines == [f"Fabric {FABRIC_VERSION} and Fabric CA {FABRIC_CA_VERSION} already in {run.home / 'bin'}"]


def test_a_wrong_checksum_is_refused_and_installs_nothing(tmp_path: Path) -> None:
    dist = make_dist(tmp_path / "dist")
    sums = (dist / "SHA256SUMS").read_text()
    (dist / "SHA256SUMS").write_text(sums.replace(sums[:64], "0" * 64, 1))
    run = Run(tmp_path, FABRIC_DIST_DIR=str(dist))
    assert run() == 1
    assert "does not match SHA256SUMS" in run.output
    assert "Nothing was installed" in run.output
    assert "official release assets" not in run.output  # a tampered mirror stops the chain
    assert run.installed() == []


def test_a_tarball_missing_from_sha256sums_is_refused(tmp_path: Path) -> None:
    dist = make_dist(tmp_path / "dist")
    (dist / "SHA256SUMS").write_text((dist / "SHA256SUMS").read_text().splitlines()[0] + "\n")
    run = Run(tmp_path, FABRIC_DIST_DIR=str(dist))
    assert run() == 1
    assert "has no line for" in run.output
    assert run.installed() == []


def test_a_truncated_tarball_is_refused(tmp_path: Path) -> None:
    dist = make_dist(tmp_path / "dist", with_sums=False)
    data = (dist / FABRIC_ASSET).read_bytes()
    (dist / FABRIC_ASSET).write_bytes(data[: len(data) // 2])
    run = Run(tmp_path, FABRIC_DIST_DIR=str(dist))
    assert run() == 1
    assert "cannot be unpacked" in run.output
    assert run.installed() == []
    assert not list(run.home.glob(".staging-*"))


def test_binaries_of_other_versions_are_refused_naming_what_was_found(tmp_path: Path) -> None:
    run = Run(tmp_path, FABRIC_DIST_DIR=str(make_dist(tmp_path / "dist", fabric_version="2.5.9")))
    assert run() == 1
    assert "peer 2.5.9" in run.output
    assert run.installed() == []


def test_a_tarball_member_escaping_the_install_is_refused(tmp_path: Path) -> None:
    dist = make_dist(tmp_path / "dist", with_sums=False)
    with tarfile.open(dist / CA_ASSET, "w:gz") as archive:
        _add(archive, "../../escaped", b"x", 0o644)
    run = Run(tmp_path, FABRIC_DIST_DIR=str(dist))
    assert run() == 1
    assert "cannot be unpacked" in run.output
    assert not (tmp_path / "escaped").exists()


@pytest.fixture
def release_server(tmp_path: Path) -> Iterator[str]:
    """Serves the tarballs where GitHub's release download URLs put them."""
    root = tmp_path / "releases"
    make_dist(root / "fabric" / "releases" / "download" / f"v{FABRIC_VERSION}", with_sums=False)
    ca = make_dist(root / "fabric-ca" / "releases" / "download" / f"v{FABRIC_CA_VERSION}", with_sums=False)
    (ca / FABRIC_ASSET).unlink()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None  # type: ignore[method-assign, assignment]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_a_missing_directory_falls_through_to_the_release_assets(tmp_path: Path, release_server: str) -> None:
    run = Run(tmp_path, FABRIC_DIST_DIR=str(tmp_path / "no-such-dir"), FABRIC_RELEASES_URL=release_server)
    assert run() == 0, run.output
    assert f"release tarballs in a local directory: skipped, FABRIC_DIST_DIR={tmp_path / 'no-such-dir'}" in run.output
    assert "installed from the official release assets" in run.output
    assert run.installed() == ["bin", "config"]


def test_when_every_source_fails_one_message_lists_the_ways(tmp_path: Path) -> None:
    run = Run(tmp_path, FABRIC_DIST_DIR=str(tmp_path / "no-such-dir"))
    assert run() == 1
    skipped = [line for line in run.lines if ": skipped, " in line]
    assert [line.split(":")[0].strip() for line in skipped] == [label for label, _ in installer.SOURCES]
    assert "go install: skipped, Go is not installed" in run.output
    assert "FABRIC_DIST_DIR" in run.lines[-1]
    assert "FABRIC_BIN" in run.lines[-1]
    assert run.installed() == []


def test_a_complete_install_is_left_alone(tmp_path: Path) -> None:
    run = Run(tmp_path, FABRIC_DIST_DIR=str(make_dist(tmp_path / "dist")))
    assert run() == 0
    peer = run.home / "bin" / "peer"
    before = peer.stat().st_mtime_ns

    def must_not_run(staging: Path, env: object) -> str:
        raise AssertionError("a source ran although Fabric was installed")

    assert installer.install(run.env, run.lines.append, (("never", must_not_run),)) == 0
    assert peer.stat().st_mtime_ns == before


def test_an_interrupted_install_is_not_complete_and_is_redone(tmp_path: Path) -> None:
    run = Run(tmp_path, FABRIC_DIST_DIR=str(make_dist(tmp_path / "dist")))
    assert run() == 0
    # As if killed between the two renames, with a staging folder left behind.
    (run.home / "config" / "core.yaml").unlink()
    (run.home / ".staging-999999").mkdir()
    assert run() == 0, run.output
    assert "installed from the release tarballs" in run.output
    assert (run.home / "config" / "core.yaml").is_file()
    assert not list(run.home.glob(".staging-*"))


def test_fabric_bin_pointing_at_an_incomplete_folder_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "my-bin"
    elsewhere.mkdir()
    run = Run(tmp_path, FABRIC_DIST_DIR=str(make_dist(tmp_path / "dist")), FABRIC_BIN=str(elsewhere))
    assert run() == 1
    assert "FABRIC_BIN / FABRIC_SAMPLECONFIG point at an incomplete install" in run.output
    assert run.installed() == []
    assert list(elsewhere.iterdir()) == []
