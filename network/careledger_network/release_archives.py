"""Fabric's release tarballs: their names, checksums, download and safe unpacking (for `install`).

Standard library only: `make fabric` runs before the virtualenv exists.
"""

from __future__ import annotations

import hashlib
import platform
import shutil
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

from .paths import FABRIC_CA_VERSION, FABRIC_VERSION

CONNECT_TIMEOUT_S = 10  # an offline machine moves on within seconds; also the longest silence mid-download
ARCHITECTURES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


class SourceUnavailable(Exception):
    """This source does not apply here or could not be reached; the installer tries the next one."""


class InstallRefused(Exception):
    """What a source holds is wrong (checksum, damage, versions): the installer stops and installs nothing."""


def platform_name() -> str:
    """The OS-architecture part of release asset names, as Fabric's own install script forms it."""
    machine = platform.machine().lower()
    return f"{platform.system().lower()}-{ARCHITECTURES.get(machine, machine)}"


def asset_names(platform: str) -> tuple[str, str]:
    return (
        f"hyperledger-fabric-{platform}-{FABRIC_VERSION}.tar.gz",
        f"hyperledger-fabric-ca-{platform}-{FABRIC_CA_VERSION}.tar.gz",
    )


def read_sha256sums(path: Path) -> dict[str, str] | None:
    """`sha256sum` output ('<hex>  <name>' or '<hex> *<name>') as name -> hex; None when there is no file."""
    if not path.is_file():
        return None
    sums = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        digest, _, name = line.partition(" ")
        name = name.strip().removeprefix("*")
        if len(digest) != 64 or not name:
            raise InstallRefused(f"{path} line {number} is not '<sha256>  <file name>'")
        sums[name] = digest.lower()
    return sums


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def unpack(tarball: Path, into: Path, sums: dict[str, str] | None) -> None:
    """Check the tarball against `sums` (when given), then unpack it into `into` refusing any member that
    would land outside it (absolute paths, `..`, links out, devices)."""
    if sums is not None:
        expected = sums.get(tarball.name)
        if expected is None:
            raise InstallRefused(f"SHA256SUMS beside {tarball} has no line for {tarball.name}")
        actual = sha256_of(tarball)
        if actual != expected:
            raise InstallRefused(
                f"{tarball} does not match SHA256SUMS (sha256 {actual}, expected {expected}): "
                "it is damaged or not the release; fetch it again"
            )
    if not hasattr(tarfile, "data_filter"):
        raise InstallRefused(f"unpacking safely needs Python 3.11.4 or newer (this is {platform.python_version()})")
    try:
        with tarfile.open(tarball, "r:gz") as archive:
            archive.extractall(into, filter="data")
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
        raise InstallRefused(f"{tarball} cannot be unpacked ({exc.__class__.__name__}: {exc}); fetch it again") from exc


def download(url: str, into: Path) -> Path:
    """Fetch `url` (redirects followed, as GitHub's release downloads need) into `into`/<its name>."""
    target = into / url.rsplit("/", 1)[-1]
    try:
        with urllib.request.urlopen(url, timeout=CONNECT_TIMEOUT_S) as response, open(target, "wb") as out:  # noqa: S310 (https, or the URL the user set)
            shutil.copyfileobj(response, out, 1 << 20)
    except urllib.error.HTTPError as exc:
        raise SourceUnavailable(f"{url} answered {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise SourceUnavailable(f"cannot download {url} ({reason})") from exc
    return target


def remove_tree(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)
