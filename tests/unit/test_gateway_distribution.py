"""fabric_gateway is its own distribution: its wheel builds, holds only its package (typed), depends on no
CareLedger package, and imports from the wheel without loading anything of CareLedger."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "-w",
            str(out),
            str(REPO / "gateway"),
        ],
        check=True,
    )
    (built,) = out.glob("careledger_fabric_gateway-*.whl")
    return built


def test_the_wheel_holds_the_typed_package_and_no_careledger(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = next(archive.read(n).decode() for n in names if n.endswith(".dist-info/METADATA"))
    packages = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert packages == {"fabric_gateway"}
    assert "fabric_gateway/py.typed" in names
    assert "fabric_gateway/README.md" not in names  # the README is the long description, not a module
    requires = [line.split(":", 1)[1].strip() for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    assert requires, "the wheel declares its dependencies"
    assert not [r for r in requires if "careledger" in r]
    assert "Fabric Gateway client" in metadata


def test_it_imports_from_the_wheel_alone(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site), str(wheel)], check=True
    )
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]); import fabric_gateway; "
        "print(fabric_gateway.__file__); print(sorted(m for m in sys.modules if m.startswith('careledger')))"
    )
    out = subprocess.run([sys.executable, "-c", probe, str(site)], capture_output=True, text=True, check=True)
    location, loaded = out.stdout.splitlines()
    assert location.startswith(str(site))
    assert loaded == "[]"
