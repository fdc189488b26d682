"""`make fabric`: install Fabric v3.1.5 and Fabric CA v1.5.21 into FABRIC_HOME from the first source that has them.

Sources, in order (README, 'Installing Fabric'):
1. an install already in FABRIC_BIN / FABRIC_SAMPLECONFIG, whose binaries report the pinned versions;
2. release tarballs in a local directory, FABRIC_DIST_DIR (else ../shared/fabric-dist beside the clone):
   the air-gapped path, checked against the directory's SHA256SUMS when it has one;
3. the official release assets on GitHub, for this OS and architecture;
4. `go install` through the Go module proxy.
A source that does not apply or does not work prints one line and the next is tried. A source that
holds something wrong (a checksum mismatch, a damaged tarball, binaries of other versions) stops the
chain: installing something else would hide it. Every source fills a staging folder inside FABRIC_HOME,
which is checked whole and only then moved into place, so an interrupted install never looks complete.
Nothing outside FABRIC_HOME is written. Standard library only: this runs before the virtualenv exists.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from . import release_archives as archives
from .paths import (
    FABRIC_CA_VERSION,
    FABRIC_COMMIT,
    FABRIC_CONFIG_FILES,
    FABRIC_VERSION,
    FABRIC_VERSION_CHECKS,
    REPO_ROOT,
    Fabric,
    fabric_home,
    fabric_paths,
)
from .release_archives import InstallRefused, SourceUnavailable

RELEASES_URL = "https://github.com/hyperledger"  # FABRIC_RELEASES_URL points elsewhere (a mirror, a test server)
SHARED_DIST_DIR = REPO_ROOT.parent / "shared" / "fabric-dist"
GO_MODULES = {
    "github.com/hyperledger/fabric": (
        FABRIC_COMMIT,
        ("peer", "orderer", "configtxgen", "configtxlator", "osnadmin"),
        "common",
    ),
    "github.com/hyperledger/fabric-ca": (f"v{FABRIC_CA_VERSION}", ("fabric-ca-server", "fabric-ca-client"), "lib"),
}
VERSION_LINE = re.compile(r"^\s*Version:\s*v?(\S+)\s*$", re.MULTILINE)

Echo = Callable[[str], None]
Source = Callable[[Path, Mapping[str, str]], str]  # fills staging/bin and staging/config; says where from


def reported_versions(fabric: Fabric) -> dict[str, str]:
    """What each binary says its version is (`<binary> version`), or why it could not say."""
    found = {}
    for binary, (arguments, _) in FABRIC_VERSION_CHECKS.items():
        try:
            run = subprocess.run([fabric.bin(binary), *arguments], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as exc:
            found[binary] = f"does not run ({exc.__class__.__name__})"
            continue
        match = VERSION_LINE.search(run.stdout)
        found[binary] = match.group(1) if run.returncode == 0 and match else "reports no version"
    return found


def check_versions(fabric: Fabric) -> None:
    found = reported_versions(fabric)
    wrong = {b: v for b, v in found.items() if v != FABRIC_VERSION_CHECKS[b][1]}
    if wrong:
        listed = ", ".join(f"{b} {v}" for b, v in wrong.items())
        raise InstallRefused(
            f"{fabric.bin_dir} holds {listed}; CareLedger needs Fabric {FABRIC_VERSION} and Fabric CA "
            f"{FABRIC_CA_VERSION}. Remove that install or point FABRIC_HOME (or FABRIC_BIN) elsewhere"
        )


# --- sources -------------------------------------------------------------------------------------------


def from_dist_dir(staging: Path, env: Mapping[str, str]) -> str:
    explicit = env.get("FABRIC_DIST_DIR")
    dist = Path(explicit) if explicit else SHARED_DIST_DIR
    if not dist.is_dir():
        why = f"FABRIC_DIST_DIR={dist} is not a directory" if explicit else f"FABRIC_DIST_DIR unset and no {dist}"
        raise SourceUnavailable(why)
    names = archives.asset_names(archives.platform_name())
    absent = [n for n in names if not (dist / n).is_file()]
    if absent:
        raise SourceUnavailable(f"{dist} has no {' or '.join(absent)}")
    sums = archives.read_sha256sums(dist / "SHA256SUMS")
    for name in names:
        archives.unpack(dist / name, staging, sums)
    checked = "checked against SHA256SUMS" if sums is not None else "no SHA256SUMS there to check them against"
    return f"the release tarballs in {dist} ({checked})"


def from_release_assets(staging: Path, env: Mapping[str, str]) -> str:
    base = env.get("FABRIC_RELEASES_URL") or RELEASES_URL
    platform = archives.platform_name()
    fabric_asset, ca_asset = archives.asset_names(platform)
    urls = (
        f"{base}/fabric/releases/download/v{FABRIC_VERSION}/{fabric_asset}",
        f"{base}/fabric-ca/releases/download/v{FABRIC_CA_VERSION}/{ca_asset}",
    )
    downloads = staging / "downloads"
    downloads.mkdir()
    for url in urls:
        tarball = archives.download(url, downloads)
        archives.unpack(tarball, staging, None)
    return f"the official release assets for {platform} ({base})"


def from_go_proxy(staging: Path, env: Mapping[str, str]) -> str:
    go = shutil.which("go", path=env.get("PATH"))
    if go is None:
        raise SourceUnavailable("Go is not installed")
    # The module and build caches stay in the staging folder (removed after), so nothing lands outside FABRIC_HOME.
    gopath = staging / "go"
    go_env = {
        **env,
        "GOBIN": str(staging / "bin"),
        "GOPATH": str(gopath),
        "GOMODCACHE": str(gopath / "pkg" / "mod"),
        "GOCACHE": str(gopath / "cache"),
        "GOFLAGS": "-modcacherw",  # lets the staging folder be removed
        "CGO_ENABLED": "1",  # fabric-ca-server links SQLite
    }
    for module, (version, commands, metadata) in GO_MODULES.items():
        pinned = FABRIC_VERSION if module.endswith("/fabric") else FABRIC_CA_VERSION
        ldflags = f"-X {module}/{metadata}/metadata.Version={pinned}"
        targets = [f"{module}/cmd/{c}@{version}" for c in commands]
        run = subprocess.run(
            [go, "install", "-ldflags", ldflags, *targets], env=go_env, capture_output=True, text=True, check=False
        )
        if run.returncode != 0:
            last = (run.stderr.strip().splitlines() or ["no output"])[-1].strip()
            raise SourceUnavailable(f"`go install {module}@{version}` failed: {last}")
    listed = subprocess.run(
        [go, "list", "-m", "-f", "{{.Dir}}", f"github.com/hyperledger/fabric@{FABRIC_COMMIT}"],
        env=go_env,
        capture_output=True,
        text=True,
        check=False,
    )
    sampleconfig = Path(listed.stdout.strip()) / "sampleconfig"
    if listed.returncode != 0 or not sampleconfig.is_dir():
        raise SourceUnavailable("Fabric's sampleconfig is not in the downloaded module")
    (staging / "config").mkdir()
    for name in FABRIC_CONFIG_FILES:
        shutil.copy2(sampleconfig / name, staging / "config" / name)
    return "`go install` through the Go module proxy"


SOURCES: tuple[tuple[str, Source], ...] = (
    ("release tarballs in a local directory", from_dist_dir),
    ("official release assets", from_release_assets),
    ("go install", from_go_proxy),
)


# --- the chain -----------------------------------------------------------------------------------------


@contextmanager
def _locked(home: Path) -> Iterator[None]:
    """One installer at a time per FABRIC_HOME (two `make` runs starting together)."""
    home.mkdir(parents=True, exist_ok=True)
    with open(home / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _staging(home: Path) -> Path:
    for stale in home.glob(".staging-*"):  # left by an install that was killed
        archives.remove_tree(stale)
    staging = home / f".staging-{os.getpid()}"
    staging.mkdir()
    return staging


def _move_into_place(staging: Path, home: Path) -> None:
    """bin/ and config/ replace what was there, one rename each. Until both are in, the install is
    incomplete (the first check needs both), so a kill in between leads to a fresh install next time."""
    replaced = staging / "replaced"
    replaced.mkdir()
    for name in ("config", "bin"):
        target = home / name
        if target.exists() or target.is_symlink():
            target.rename(replaced / name)
        (staging / name).rename(target)


def install(env: Mapping[str, str], echo: Echo, sources: tuple[tuple[str, Source], ...] = SOURCES) -> int:
    """Run the chain; 0 when Fabric is installed (or already was), 1 when nothing could install it."""
    home, fabric = fabric_home(env), fabric_paths(env)
    try:
        if not fabric.missing():
            check_versions(fabric)
            echo(f"Fabric {FABRIC_VERSION} and Fabric CA {FABRIC_CA_VERSION} already in {fabric.bin_dir}")
            return 0
        if fabric != Fabric(home / "bin", home / "config"):
            raise InstallRefused(
                f"FABRIC_BIN / FABRIC_SAMPLECONFIG point at an incomplete install (missing "
                f"{', '.join(fabric.missing())}); complete it there, or unset them so `make fabric` installs "
                f"into FABRIC_HOME ({home})."
            )
        echo(f"Fabric is not in {home}: installing it")
        with _locked(home):
            if not fabric.missing():  # another installer finished while this one waited for the lock
                check_versions(fabric)
                return 0
            for label, source in sources:
                started = time.monotonic()
                staging = _staging(home)
                try:
                    origin = source(staging, env)
                    staged = Fabric(staging / "bin", staging / "config")
                    if staged.missing():
                        raise InstallRefused(f"{origin}: no {', '.join(staged.missing())} in them")
                    check_versions(staged)
                    _move_into_place(staging, home)
                    echo(f"installed from {origin} into {home} in {time.monotonic() - started:.1f} s")
                    return 0
                except SourceUnavailable as why:
                    echo(f"  {label}: skipped, {why}")
                finally:
                    archives.remove_tree(staging)
    except InstallRefused as refusal:
        echo(f"error: {refusal}. Nothing was installed.")
        return 1
    echo(
        "error: no source could install Fabric. Any one of these works: put the release tarballs "
        f"{' and '.join(archives.asset_names(archives.platform_name()))} (with a SHA256SUMS) in a directory "
        "and set FABRIC_DIST_DIR to it; or allow downloads from github.com/hyperledger releases; or a Go "
        "module proxy that serves github.com/hyperledger/fabric and fabric-ca; or put the binaries in "
        "FABRIC_BIN and Fabric's core.yaml and orderer.yaml in FABRIC_SAMPLECONFIG."
    )
    return 1


def main() -> None:
    sys.exit(install(os.environ, lambda line: print(line, flush=True)))


if __name__ == "__main__":
    main()
