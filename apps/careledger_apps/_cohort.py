"""The research cohort as its researcher sees it before training: counts only.

The cohort is what `careledger_models.train.train_on_cohort` will train on: the records whose key the
researcher (or its organization) holds through an active grant with the research purpose. The page says how
many consents and records there are and of which categories, and which of the shipped models each category
can train; never which patients or which records (a researcher learns a record only by opening it for
research, which the ledger records).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Protocol

from careledger.errors import ChaincodeRefusal
from careledger_models.datasets import DATASETS
from careledger_models.train import MIN_COHORT
from careledger_protocol import Grant, Purpose, Record


class CohortSession(Protocol):
    def grants_to_me(self) -> list[Grant]: ...
    def record(self, record_id: str) -> Record: ...


@dataclass(frozen=True)
class Trainable:
    """A shipped model that records of one category can train."""

    dataset: str
    category: str
    records: int

    @property
    def enough(self) -> bool:
        return self.records >= MIN_COHORT


@dataclass(frozen=True)
class CohortSummary:
    consents: int  # active grants with the research purpose
    records: int  # distinct records they give the key of
    categories: dict[str, int] = field(default_factory=dict)  # category -> records
    unavailable: int = 0  # keyed records whose metadata the ledger no longer shows (erased, or refused)
    trainable: list[Trainable] = field(default_factory=list)
    min_records: int = MIN_COHORT


def research_grants(grants: list[Grant]) -> list[Grant]:
    """The grants training reads from (the same rule as train_on_cohort's)."""
    return [g for g in grants if g["status"] == "active" and Purpose.RESEARCH in g["purposes"]]


def summarize(session: CohortSession) -> CohortSummary:
    grants = research_grants(session.grants_to_me())
    category_of: dict[str, str] = {}
    unknown: set[str] = set()
    for grant in grants:
        only = grant["categories"][0] if len(grant["categories"]) == 1 and not grant["record_ids"] else None
        for record_id in grant["keyed_records"]:
            if only is not None:
                category_of[record_id] = only  # the grant covers one category: no need to ask
            else:
                unknown.add(record_id)
    unavailable = 0
    for record_id in sorted(unknown - set(category_of)):
        try:
            record = session.record(record_id)
        except ChaincodeRefusal:  # erased since, or no longer visible: counted, not named
            unavailable += 1
            continue
        if record["status"] != "active":
            unavailable += 1
            continue
        category_of[record_id] = record["category"]
    categories = dict(sorted(Counter(category_of.values()).items()))
    trainable = []
    for name in sorted(DATASETS):
        category = dataset_category(name)
        trainable.append(Trainable(name, category, categories.get(category, 0)))
    return CohortSummary(len(grants), len(category_of) + unavailable, categories, unavailable, trainable)


_CATEGORIES: dict[str, str] = {}


def dataset_category(name: str) -> str:
    """The record category a shipped dataset's records carry (loading a dataset reads its file: once)."""
    if name not in _CATEGORIES:
        _CATEGORIES[name] = DATASETS[name]().category
    return _CATEGORIES[name]
