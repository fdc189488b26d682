"""The HL7 FHIR validation engine (HAPI FHIR's instance validator, R4) for tests: `validate(resources)`.

The engine is Java; tests/fhir_validator is a pinned Maven project that builds it into one jar with the
R4 definitions inside, so validating needs no network. The jar is built on first use (from the local
Maven repository when it already has everything, else from Maven Central) and reused while it is newer
than its sources. One JVM validates the whole corpus: start-up and the first snapshot generation cost
more than the validations themselves.

Profiles the engine cannot have: a resource may claim (meta.profile) a profile whose StructureDefinition is
not obtainable here (the IHE profiles: their packages are published only on packages.fhir.org). The engine
then reports the claim as an error, "profile not found". A caller that checks those profiles' rules itself
names them (`unavailable_profiles`): for exactly those URLs the report keeps the engine's message as
information, saying where the rules are checked instead; any other unknown profile stays an error.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parent / "fhir_validator"
JAR = PROJECT / "target" / "fhir-validator.jar"
BUILD_TIMEOUT = 1200  # seconds: a first build downloads about 150 MB of artifacts
RUN_TIMEOUT = 900
UNKNOWN_PROFILE = "Validation_VAL_Profile_Unknown"  # the engine's message id for a profile it could not find


class ValidatorUnavailable(RuntimeError):
    """The validator could not be built or run (no JDK, no Maven, no artifacts): not a verdict on FHIR."""


@dataclass(frozen=True)
class Issue:
    severity: str  # fatal | error | warning | information
    location: str
    message: str
    message_id: str | None


@dataclass
class Report:
    errors: list[Issue] = field(default_factory=list)  # fatal ones included: both fail validation
    warnings: list[Issue] = field(default_factory=list)
    information: list[Issue] = field(default_factory=list)


def validate(
    resources: dict[str, dict[str, Any]], unavailable_profiles: dict[str, str] | None = None
) -> dict[str, Report]:
    """Validate each resource (by name) as FHIR R4 in one run of the engine; a report per name.

    `unavailable_profiles`: profile URL -> where its rules are checked instead (see the module docstring)."""
    jar = ensure_jar()
    java = _tool("java")
    with tempfile.TemporaryDirectory(prefix="careledger-fhir-") as tmp:
        # Names may hold any character: files are numbered and mapped back.
        paths: dict[str, str] = {}
        for i, (name, resource) in enumerate(resources.items()):
            path = Path(tmp, f"{i:06d}.json")
            path.write_text(json.dumps(resource, ensure_ascii=False), encoding="utf-8")
            paths[str(path)] = name
        # C1 only and the serial collector: the run is short and mostly one-off work (loading the R4
        # definitions, generating snapshots), where C2 compilation costs more CPU than it saves;
        # measured here about 30% less wall time and half the CPU on 2 cores.
        done = subprocess.run(
            [java, "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-jar", str(jar), tmp],
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            check=False,
        )
    if done.returncode != 0:
        raise ValidatorUnavailable(f"the validator failed (exit {done.returncode}):\n{done.stderr[-4000:]}")
    files: dict[str, Any] = json.loads(done.stdout)["files"]
    return {paths[path]: _report(result["issues"], unavailable_profiles or {}) for path, result in files.items()}


def engine_version() -> str:
    """The pinned HAPI FHIR version the jar is built from (the pom's single hapi.version property)."""
    pom = (PROJECT / "pom.xml").read_text(encoding="utf-8")
    return pom.split("<hapi.version>", 1)[1].split("</hapi.version>", 1)[0]


def ensure_jar() -> Path:
    """The runnable jar, built first if missing or older than the pom or a source file."""
    with _build_lock():  # parallel test workers must not run two Maven builds into one target/
        if JAR.exists() and JAR.stat().st_mtime >= _sources_mtime():
            return JAR
        mvn = _tool("mvn")
        base = [mvn, "-B", "-q", "-f", str(PROJECT / "pom.xml"), "package", "-DskipTests"]
        # Offline first: no network when the local repository already holds every artifact.
        offline = subprocess.run([*base, "-o"], capture_output=True, text=True, timeout=BUILD_TIMEOUT, check=False)
        if offline.returncode != 0:
            online = subprocess.run(base, capture_output=True, text=True, timeout=BUILD_TIMEOUT, check=False)
            if online.returncode != 0:
                raise ValidatorUnavailable(f"building the validator failed:\n{online.stdout[-4000:]}{online.stderr}")
        if not JAR.exists():
            raise ValidatorUnavailable(f"the build made no {JAR}")
        return JAR


def _sources_mtime() -> float:
    sources = [PROJECT / "pom.xml", *(p for p in (PROJECT / "src").rglob("*") if p.is_file())]
    return max(p.stat().st_mtime for p in sources)


@contextlib.contextmanager
def _build_lock() -> Iterator[None]:
    lock = Path(tempfile.gettempdir(), "careledger-fhir-validator.lock")
    with lock.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _tool(name: str) -> str:
    home = os.environ.get("JAVA_HOME") if name == "java" else None
    found = str(Path(home, "bin", name)) if home and Path(home, "bin", name).exists() else shutil.which(name)
    if not found:
        raise ValidatorUnavailable(f"{name} is not installed: the FHIR validator needs a JDK 17+ and Maven")
    return found


def _report(issues: list[dict[str, Any]], unavailable_profiles: dict[str, str]) -> Report:
    report = Report()
    for raw in issues:
        issue = Issue(raw["severity"], raw["location"] or "", raw["message"] or "", raw.get("messageId"))
        checked_by = _checked_elsewhere(issue, unavailable_profiles)
        if checked_by:
            issue = Issue("information", issue.location, f"{issue.message} (its rules: {checked_by})", issue.message_id)
        if issue.severity in ("fatal", "error"):
            report.errors.append(issue)
        elif issue.severity == "warning":
            report.warnings.append(issue)
        else:
            report.information.append(issue)
    return report


def _checked_elsewhere(issue: Issue, unavailable_profiles: dict[str, str]) -> str | None:
    """Where the rules of the profile an "unknown profile" issue names are checked, if the caller said so.
    The URL must appear whole: quoted, or at the end of the message."""
    if issue.message_id != UNKNOWN_PROFILE:
        return None
    for url, checked_by in unavailable_profiles.items():
        if f"'{url}'" in issue.message or issue.message.endswith(f"={url}"):
            return checked_by
    return None
