"""What a clinician may see of a patient now, from the grants naming them or their hospital: per patient (for
the search results) and per record (for the patient page). The ledger decides every access again when a record
is opened; this only tells the clinician beforehand what is open and what needs the patient's consent."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from careledger_protocol import PURPOSES, Grant, Record


def _current(grant: Grant, now: datetime.datetime) -> bool:
    if grant["status"] != "active":
        return False
    try:
        starts = datetime.datetime.fromisoformat(grant["valid_from"])
        ends = datetime.datetime.fromisoformat(grant["valid_until"])
    except (KeyError, ValueError):
        return False
    return starts <= now < ends


def current_grants(grants: Iterable[Grant], now: datetime.datetime | None = None) -> list[Grant]:
    """The grants in force now (active, within their period)."""
    moment = now or datetime.datetime.now(datetime.UTC)
    return [g for g in grants if _current(g, moment)]


@dataclass
class Openness:
    """What is open to the clinician of one patient's records: purposes, and the scope they cover."""

    purposes: set[str] = field(default_factory=set)
    record_ids: set[str] = field(default_factory=set)
    categories: set[str] = field(default_factory=set)
    until: str = ""

    @property
    def anything(self) -> bool:
        return bool(self.purposes)


def by_patient(grants: Iterable[Grant]) -> dict[str, Openness]:
    """Per patient, what the current grants open to the clinician (or their organization)."""
    out: dict[str, Openness] = {}
    for grant in current_grants(grants):
        open_ = out.setdefault(grant["patient_id"], Openness())
        open_.purposes.update(grant["purposes"])
        open_.record_ids.update(grant.get("record_ids") or [])
        open_.categories.update(grant.get("categories") or [])
        open_.until = max(open_.until, grant["valid_until"])
    return out


def purposes_for(record: Record, grants: Sequence[Grant]) -> list[str]:
    """The purposes a current grant opens this record for, in the protocol's order (treatment first: what a
    clinician opening a record from its page most often means, so the page preselects it)."""
    found: set[str] = set()
    for grant in current_grants(grants):
        if grant["patient_id"] != record["patient_id"]:
            continue
        in_records = record["id"] in (grant.get("record_ids") or [])
        if in_records or record["category"] in (grant.get("categories") or []):
            found.update(grant["purposes"])
    return [p for p in PURPOSES if p in found]
