"""The scrub: read every blob in every place of a record store, check each against its SHA-256, report what
is missing or corrupt where, and repair it from a place that holds it whole.

Which blobs must exist comes from the caller (`expected`: the ledger's ciphertext SHA-256s of the
custodian's record versions, as far as they are known) and from the places themselves (whatever either
place holds must be whole in both). A blob expected but whole nowhere is lost: reported, never repaired.
Findings carry addresses (SHA-256 of ciphertext) and place names only, never content.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal

from ._blobs import BlobCorrupt, BlobError, BlobNotFound, BlobStore, BlobUnavailable, check_address
from ._replicas import ReplicatedBlobStore

Problem = Literal["missing", "corrupt", "unavailable"]


@dataclass(frozen=True)
class Finding:
    address: str
    place: str  # "primary" | "replica"
    problem: Problem
    repaired: bool


@dataclass
class ScrubReport:
    places: list[str]  # how each place describes itself, primary first
    checked: int = 0  # blobs (addresses) checked, each in every place
    seconds: float = 0.0
    findings: list[Finding] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)  # expected, but whole in no place
    unexpected: int = 0  # held, but not in `expected` (counted only when the expected list is complete)

    @property
    def per_second(self) -> float:
        return self.checked / self.seconds if self.seconds > 0 else 0.0

    @property
    def clean(self) -> bool:
        """Nothing lost and every finding repaired."""
        return not self.lost and all(f.repaired for f in self.findings)

    def count(self, place: str, problem: Problem) -> int:
        return sum(1 for f in self.findings if f.place == place and f.problem == problem)


def scrub(
    blobs: BlobStore,
    expected: Iterable[str] = (),
    repair: bool = True,
    expected_is_complete: bool = False,
    workers: int = 8,
) -> ScrubReport:
    """Check every blob `blobs` holds, and every `expected` address, in each of its places; `workers` blobs at
    a time (a bucket answers each read after a round trip: one at a time would leave it mostly waiting)."""
    places = list(blobs.places) if isinstance(blobs, ReplicatedBlobStore) else [("primary", blobs)]
    report = ScrubReport(places=[f"{name}: {place}" for name, place in places])
    started = time.monotonic()
    wanted = {check_address(a) for a in expected}
    held = set(blobs.addresses())
    if expected_is_complete:
        report.unexpected = len(held - wanted)
    with ThreadPoolExecutor(max(1, workers)) as pool:
        outcomes = pool.map(lambda a: _check_one(a, places, repair, a in wanted), sorted(wanted | held))
        for findings, lost_address in outcomes:
            report.findings.extend(findings)
            report.lost.extend([lost_address] if lost_address else [])
            report.checked += 1
    report.seconds = time.monotonic() - started
    return report


def _check_one(
    address: str, places: list[tuple[str, BlobStore]], repair: bool, expected: bool
) -> tuple[list[Finding], str | None]:
    """The findings on one blob in each place (repaired when asked and possible), and its address if it is lost."""
    whole: bytes | None = None
    problems: list[tuple[str, BlobStore, Problem]] = []
    for name, place in places:
        try:
            blob = place.get(address)
        except BlobNotFound:
            problems.append((name, place, "missing"))
        except BlobCorrupt:
            problems.append((name, place, "corrupt"))
        except BlobUnavailable:
            problems.append((name, place, "unavailable"))
        except BlobError:  # any other failure to read it whole counts as corrupt
            problems.append((name, place, "corrupt"))
        else:
            whole = blob if whole is None else whole
    findings = []
    for name, place, problem in problems:
        repaired = False
        if repair and whole is not None and problem != "unavailable":
            try:
                place.put(whole)
                repaired = True
            except BlobError:
                repaired = False  # stays reported as not repaired; the next scrub tries again
        findings.append(Finding(address, name, problem, repaired))
    return findings, address if whole is None and expected else None
