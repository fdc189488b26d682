"""The patient's access log in plain words: who (name, role, hospital) opened which record (its title when the
patient has read it here, else its category and date) for what purpose, when, and why it was allowed or refused;
the emergency justification; filters and pages.

Why a grant used to read as "you opened your own record": to share a record, the portal opens the record's key
with the patient's own key and re-wraps it for the grantee (ConsentFlows.grant), and opening a key is an access
decision on the ledger like any other, by the patient, for treatment. Those rows are the patient's own key
being used, not someone reading their records: they are matched to the grant made right after them and said as
"you shared it with <name>", and, like the patient's own reading, they are left out unless asked for.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from careledger_protocol import AuditEvent, EmergencyReview, Grant, Record
from werkzeug.datastructures import MultiDict

PAGE_SIZE = 25
SHARING_WINDOW = datetime.timedelta(minutes=2)  # a grant commits within this long after its key-opening access


def _moment(value: str) -> datetime.datetime | None:
    try:
        moment = datetime.datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


@dataclass(frozen=True)
class RecordLabel:
    """How the log names a record: its title and date when the patient's portal has read it, else what the
    ledger says (category, type, when it was registered)."""

    title: str
    date: str
    known: bool  # the title comes from the record's content


@dataclass(frozen=True)
class LogRow:
    event: AuditEvent
    who: str  # member id (the page names them); "" for the patient themselves
    own: bool  # the patient's own access: reading a record, or opening its key to share it
    shared_with: str  # the grantee, when `own` was for sharing
    record: RecordLabel
    purpose: str
    allowed: bool
    why: str  # in words
    justification: str  # an emergency's, when the patient may read it
    review: EmergencyReview | None = None  # an emergency's after-the-fact review, once there is one


@dataclass
class LogFilter:
    purpose: str = ""
    decision: str = ""  # "", allowed, denied
    emergency: str = ""  # "", only, none
    since: datetime.date | None = None
    until: datetime.date | None = None
    own: bool = False  # include the patient's own accesses
    page: int = 1
    problems: dict[str, str] = field(default_factory=dict)

    @classmethod
    def read(cls, args: MultiDict[str, str], purposes: Iterable[str]) -> LogFilter:
        """The filters from the page's query; what cannot be read is said and ignored."""
        chosen = cls(own=args.get("own") == "yes")
        if (purpose := args.get("purpose", "")) in purposes:
            chosen.purpose = purpose
        if (decision := args.get("decision", "")) in ("allowed", "denied"):
            chosen.decision = decision
        if (emergency := args.get("emergency", "")) in ("only", "none"):
            chosen.emergency = emergency
        for name in ("since", "until"):
            text = args.get(name, "").strip()
            if not text:
                continue
            try:
                setattr(chosen, name, datetime.date.fromisoformat(text))
            except ValueError:
                chosen.problems[name] = "Enter a date like 2026-03-01."
        try:
            chosen.page = max(1, int(args.get("page", "1")))
        except ValueError:
            chosen.page = 1
        return chosen

    def keeps(self, row: LogRow) -> bool:
        event = row.event
        day = (_moment(event["time"]) or datetime.datetime.min.replace(tzinfo=datetime.UTC)).date()
        return (
            (self.own or not row.own)
            and (not self.purpose or event["purpose"] == self.purpose)
            and (not self.decision or event["decision"] == self.decision)
            and (self.emergency != "only" or event["emergency"])
            and (self.emergency != "none" or not event["emergency"])
            and (self.since is None or day >= self.since)
            and (self.until is None or day <= self.until)
        )

    def query(self, page: int) -> dict[str, str]:
        """This filter as query arguments, on another page (the paging links keep the filters)."""
        out = {"purpose": self.purpose, "decision": self.decision, "emergency": self.emergency}
        for name, day in (("since", self.since), ("until", self.until)):
            out[name] = day.isoformat() if day else ""
        out |= {"own": "yes" if self.own else "", "page": str(page)}
        return {k: v for k, v in out.items() if v}


def record_labels(records: Sequence[Record], titles: Mapping[str, tuple[str, str]]) -> dict[str, RecordLabel]:
    """Each record's label: `titles` (record id -> title, date) holds what the patient's portal read."""
    out = {}
    for record in records:
        if record["id"] in titles:
            title, date = titles[record["id"]]
            out[record["id"]] = RecordLabel(title, date, True)
        else:
            what = f"{record['category']} {record['resource_type']}"
            out[record["id"]] = RecordLabel(what, record["created_at"], False)
    return out


def _sharing(event: AuditEvent, grants: Sequence[Grant]) -> str:
    """The grantee of the grant this own access opened the key for, or "" (then it was the patient reading)."""
    at = _moment(event["time"])
    if at is None:
        return ""
    for grant in grants:
        made = _moment(grant["created_at"])
        if made and at <= made <= at + SHARING_WINDOW and event["record_id"] in grant.get("keyed_records", []):
            return grant["grantee"]
    return ""


def _why(event: AuditEvent, purpose_words: Callable[[str], str]) -> str:
    if event["decision"] == "allowed":
        if event["emergency"]:
            return "Allowed as an emergency access, without your consent"
        if event.get("on_behalf_of"):  # a proxy you (or your hospital) named, acting for you
            return "Allowed: done by your proxy, for you"
        if event.get("consent_id") or event["reason"].startswith("consent "):  # older events name it in the reason
            return "Allowed by your consent"
        return "Allowed"
    reason = event["reason"]
    for purpose in ("treatment", "diagnosis-ai", "research"):
        reason = reason.replace(f"purpose {purpose}", f"purpose “{purpose_words(purpose)}”")
    return f"Refused: {reason}"


def log_rows(
    events: Iterable[AuditEvent],
    patient_id: str,
    grants: Sequence[Grant],
    labels: Mapping[str, RecordLabel],
    purpose_words: Callable[[str], str],
) -> list[LogRow]:
    """The log, newest first, each decision in words (an emergency's justification is read per page)."""
    rows = []
    for event in sorted(events, key=lambda e: (e["time"], e.get("n", 0)), reverse=True):
        own = event["requester"] == patient_id
        label = labels.get(event["record_id"], RecordLabel(event["record_id"], "", False))
        purpose = "emergency" if event["emergency"] else purpose_words(event["purpose"])
        rows.append(
            LogRow(
                event=event,
                who="" if own else event["requester"],
                own=own,
                shared_with=_sharing(event, grants) if own else "",
                record=label,
                purpose=purpose,
                allowed=event["decision"] == "allowed",
                why=_why(event, purpose_words),
                justification="",
            )
        )
    return rows


@dataclass(frozen=True)
class LogPage:
    rows: list[LogRow]
    page: int
    pages: int
    total: int


def paged(
    rows: Sequence[LogRow],
    chosen: LogFilter,
    justification_of: Callable[[str], str],
    review_of: Callable[[str], EmergencyReview | None] = lambda _tx_id: None,
    size: int = PAGE_SIZE,
) -> LogPage:
    """One page of the rows the filter keeps; the emergencies on it with their justification and review
    (`justification_of` and `review_of` an access tx id, each asked once per transaction)."""
    kept = [r for r in rows if chosen.keeps(r)]
    pages = max(1, -(-len(kept) // size))
    page = min(chosen.page, pages)
    words: dict[str, tuple[str, EmergencyReview | None]] = {}
    shown = []
    for row in kept[(page - 1) * size : page * size]:
        if row.event["emergency"]:
            tx_id = row.event["tx_id"]
            if tx_id not in words:
                words[tx_id] = (justification_of(tx_id), review_of(tx_id))
            row = replace(row, justification=words[tx_id][0], review=words[tx_id][1])
        shown.append(row)
    return LogPage(shown, page, pages, len(kept))
