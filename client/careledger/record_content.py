"""A record's title and date, read from inside its (decrypted) FHIR content, never from the ledger.

The ledger keeps only a record's category, resource type and times of registration; what a record is about
("Hemoglobin", "Chest X-ray report") and when it was taken are clinical content, so they live in the FHIR
resource's own fields (`code.text` or a coding's `display`; `effectiveDateTime`, `effectivePeriod.start` or
`issued`) and are shown only to whoever decrypted it. `stamped` gives a new record both when it lacks them, so
every record has something to show.
"""

from __future__ import annotations

import copy
import datetime
from typing import Any

# Resources whose FHIR definition has a `code` and an `effective[x]` (and `issued`) we can fill in.
_DATED_TYPES = ("Observation", "DiagnosticReport")


def title_of(resource: dict[str, Any]) -> str:
    """What the record is about, in words: code.text, else the first coding's display, else its type."""
    code = resource.get("code")
    if isinstance(code, dict):
        if isinstance(code.get("text"), str) and code["text"].strip():
            return str(code["text"]).strip()
        for coding in code.get("coding", []) if isinstance(code.get("coding"), list) else []:
            if isinstance(coding, dict) and isinstance(coding.get("display"), str) and coding["display"].strip():
                return str(coding["display"]).strip()
    return str(resource.get("resourceType", "Record"))


def date_of(resource: dict[str, Any]) -> str:
    """When the record's content was taken (ISO 8601), or "" if it does not say."""
    period = resource.get("effectivePeriod")
    for value in (resource.get("effectiveDateTime"), period.get("start") if isinstance(period, dict) else None):
        if isinstance(value, str) and value:
            return value
    for value in (resource.get("issued"),):
        if isinstance(value, str) and value:
            return value
    return ""


def stamped(resource: dict[str, Any], at: datetime.datetime | None = None) -> dict[str, Any]:
    """A copy of a new record's resource with a title (code.text) and a date (effectiveDateTime) when it has
    none; other resource types, and resources that already say, are returned unchanged."""
    if resource.get("resourceType") not in _DATED_TYPES:
        return resource
    out = copy.deepcopy(resource)
    code = out.get("code")
    if isinstance(code, dict) and not (isinstance(code.get("text"), str) and code["text"].strip()):
        title = title_of(out)
        if title != out["resourceType"]:  # a coding's display: readable without the code system
            code["text"] = title
    if not date_of(out):
        moment = (at or datetime.datetime.now(datetime.UTC)).astimezone(datetime.UTC)
        out["effectiveDateTime"] = moment.isoformat(timespec="seconds").replace("+00:00", "Z")
    return out
