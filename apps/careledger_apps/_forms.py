"""Forms as the pages show them, and the reading of the apps' forms.

A `Form` keeps what the person sent (a page with a problem shows it again, never cleared), each field's
problem in words (the sentences are in _messages, by name) and a problem with the whole form. The readers
below turn a sent form into what the ledger will be asked, or into problems, without asking the ledger:
only what the ledger alone can know (who is registered, what is allowed) comes back as a refusal.
"""

from __future__ import annotations

import datetime
import json
import math
from dataclasses import dataclass, field
from typing import Any

from careledger.errors import ChaincodeRefusal
from careledger_protocol import LOCAL_ID, PROXY_RIGHT_NEEDS, PROXY_RIGHTS, PURPOSES, is_member_id, valid_justification
from werkzeug.datastructures import FileStorage, MultiDict

from ._messages import PROBLEMS, form_refusal

# The furthest "until" a grant form offers.
MAX_YEARS = 100


@dataclass
class Form:
    """One form of a page: `name` prefixes its fields' ids; `values` are as sent (or the defaults)."""

    name: str
    values: MultiDict[str, str] = field(default_factory=MultiDict)
    errors: dict[str, str] = field(default_factory=dict)  # field -> its problem, in page order
    general: str = ""  # a problem with the whole form
    details: str = ""  # what the ledger or a parser said, for support (shown folded away)
    status: int = 400

    @property
    def ok(self) -> bool:
        return not self.errors and not self.general

    def id(self, name: str) -> str:
        return f"{self.name}-{name}"

    def value(self, name: str, default: str = "") -> str:
        return self.values.get(name, default)

    def chosen(self, name: str) -> list[str]:
        return self.values.getlist(name)

    def problem(self, name: str, problem: str, **words: Any) -> None:
        """Say `problem` (a key of _messages.PROBLEMS) next to field `name`; the first problem of a field stays."""
        self.errors.setdefault(name, PROBLEMS[problem].format(**words))

    def refused(self, exc: ChaincodeRefusal) -> None:
        """The ledger refused what this form asked: in words, by the refusal's type (see _messages)."""
        name, words, self.status = form_refusal(self.name, exc)
        if name:
            self.errors.setdefault(name, words)
        else:
            self.general = words
        self.details = exc.reason


def today_utc() -> datetime.date:
    return datetime.datetime.now(datetime.UTC).date()


def latest_day(today: datetime.date) -> datetime.date:
    try:
        return today.replace(year=today.year + MAX_YEARS)
    except ValueError:  # 29 February
        return today.replace(year=today.year + MAX_YEARS, day=28)


@dataclass(frozen=True)
class GrantChoice:
    """What the grant form asks the ledger."""

    grantee: str
    purposes: list[str]
    valid_until: str
    record_ids: list[str] | None
    categories: list[str] | None
    last_day: datetime.date


def read_grant(form: Form, today: datetime.date) -> GrantChoice | None:
    """The grant the form asks for, or None with the form's problems said (in page order)."""
    grantee = form.value("grantee").strip()
    categories, record_ids = form.chosen("category"), form.chosen("record")
    purposes = [p for p in form.chosen("purpose") if p in PURPOSES]
    if not grantee:
        form.problem("grantee", "grantee.missing")
    if not (categories or record_ids):
        form.problem("scope", "scope.missing")
    if not purposes:
        form.problem("purpose", "purpose.missing")
    last_day = _read_day(form, "until", today)
    if last_day is None or not form.ok:
        return None
    return GrantChoice(grantee, purposes, through_day(last_day), record_ids or None, categories or None, last_day)


def through_day(last_day: datetime.date) -> str:
    """The ledger time a period chosen by its last day ends at: the end of that day (UTC)."""
    return f"{last_day.isoformat()}T23:59:59Z"


def _read_day(form: Form, name: str, today: datetime.date) -> datetime.date | None:
    text = form.value(name).strip()
    if not text:
        form.problem(name, f"{name}.missing")
        return None
    try:
        day = datetime.date.fromisoformat(text)
    except ValueError:
        form.problem(name, f"{name}.invalid")
        return None
    if day < today:
        form.problem(name, f"{name}.past")
        return None
    if day > latest_day(today):
        form.problem(name, f"{name}.far")
        return None
    return day


def read_consent_upload(form: Form, upload: FileStorage | None) -> dict[str, Any] | None:
    """The JSON object of an uploaded Consent, or None with the problem said."""
    if upload is None or not upload.filename:
        form.problem("consent", "consent.missing")
        return None
    try:
        resource = json.loads(upload.read(256 * 1024))
    except ValueError:  # not JSON, or not text at all
        form.problem("consent", "consent.not_json")
        return None
    if not isinstance(resource, dict):
        form.problem("consent", "consent.not_fhir")
        return None
    return resource


@dataclass(frozen=True)
class NewRecord:
    patient_id: str
    category: str
    resource: dict[str, Any]
    uploaded: bool


def read_new_record(form: Form, upload: FileStorage | None) -> NewRecord | None:
    """The record the hospital form describes (its fields, or an uploaded FHIR file), or None with problems."""
    patient_id, category = form.value("patient_id").strip(), form.value("category").strip()
    if not patient_id:
        form.problem("patient_id", "patient_id.missing")
    elif not (LOCAL_ID.match(patient_id) or is_member_id(patient_id)):
        form.problem("patient_id", "patient_id.invalid")
    if not category:
        form.problem("category", "category.missing")
    uploaded = upload is not None and bool(upload.filename)
    resource = _read_fhir_file(form, upload) if upload is not None and uploaded else _observation(form)
    if resource is None or not form.ok:
        return None
    return NewRecord(patient_id, category, resource, uploaded)


def _read_fhir_file(form: Form, upload: FileStorage) -> dict[str, Any] | None:
    try:
        resource = json.loads(upload.read())
    except json.JSONDecodeError as exc:
        form.problem("fhir", "fhir.not_json", line=exc.lineno, column=exc.colno)
        return None
    except ValueError:  # not UTF-8 text
        form.problem("fhir", "fhir.not_text")
        return None
    if not isinstance(resource, dict):
        form.problem("fhir", "fhir.not_fhir")
        return None
    return resource


def _observation(form: Form) -> dict[str, Any] | None:
    text = form.value("value").strip()
    if not text:
        form.problem("value", "value.missing")
        return None
    if text.count(",") == 1 and "." not in text:
        text = text.replace(",", ".")  # a decimal comma, as many write it
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        form.problem("value", "value.not_number")
        return None
    quantity: dict[str, Any] = {"value": number}
    if unit := form.value("unit").strip():  # FHIR allows no empty strings
        quantity["unit"] = unit
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": form.value("code").strip() or "Observation"},
        "valueQuantity": quantity,
    }


def read_emergency(form: Form) -> tuple[str, str] | None:
    """The record id and justification of an emergency access, or None with problems."""
    record_id, justification = form.value("record_id").strip(), form.value("justification").strip()
    if not record_id:
        form.problem("record_id", "record_id.missing")
    if not valid_justification(justification):
        form.problem("justification", "justification.short")
    return (record_id, justification) if form.ok else None


@dataclass(frozen=True)
class ProxyChoice:
    """What the proxy form (people who can act for me) asks the ledger."""

    proxy: str
    rights: list[str]
    valid_until: str
    last_day: datetime.date


def read_proxy(form: Form, today: datetime.date) -> ProxyChoice | None:
    """The proxy the form names, or None with the form's problems said (in page order)."""
    proxy = form.value("proxy").strip()
    rights = [r for r in form.chosen("right") if r in PROXY_RIGHTS]
    if not proxy:
        form.problem("proxy", "proxy.missing")
    elif not is_member_id(proxy):
        form.problem("proxy", "proxy.invalid")
    if not rights:
        form.problem("rights", "rights.missing")
    elif any(PROXY_RIGHT_NEEDS.get(r, r) not in rights for r in rights):
        form.problem("rights", "rights.grant_needs_view")
    last_day = _read_day(form, "until", today)
    if last_day is None or not form.ok:
        return None
    return ProxyChoice(proxy, sorted(rights), through_day(last_day), last_day)
