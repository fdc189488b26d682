"""A FHIR R4 read API on the hospital app, for the hospital's other systems: the capability statement, and
Consent, AuditEvent and Provenance searches by patient and date, as paginated searchset Bundles.

The caller is the signed-in member, and the ledger decides what it may read exactly as for the pages (a
refusal is an OperationOutcome with the ledger's reason). Searches:
    GET /fhir/metadata
    GET /fhir/{Consent|AuditEvent|Provenance}?patient=<member id>[&date=ge2026-01-01][&date=lt2027-01-01]
        [&_count=50][&_page=1]
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from careledger import fhir
from careledger.errors import ChaincodeRefusal, GatewayError
from flask import Blueprint, Response, g, request

from ._common import current_session

bp = Blueprint("fhir", __name__, url_prefix="/fhir")
MAX_COUNT = 500
FHIR_JSON = "application/fhir+json"

# Each searchable type: how a member's resources are read, and the element its `date` parameter filters on.
SEARCHES: dict[str, tuple[Callable[[Any, str], Iterable[dict[str, Any]]], str]] = {
    "Consent": (lambda me, patient: (fhir.consent(x) for x in me.grants_of(patient)), "dateTime"),
    "AuditEvent": (lambda me, patient: (fhir.audit_event(x) for x in me.access_log(patient)), "recorded"),
    "Provenance": (lambda me, patient: (fhir.provenance(x) for x in me.inferences_of(patient)), "recorded"),
}
_COMPARATORS: dict[str, Callable[[datetime, datetime], bool]] = {
    "eq": lambda a, b: a.date() == b.date(),
    "ge": lambda a, b: a >= b,
    "gt": lambda a, b: a > b,
    "le": lambda a, b: a <= b,
    "lt": lambda a, b: a < b,
}


# A refusal of the ledger as an HTTP status and an OperationOutcome issue code.
_REFUSALS = {"NOT_AUTHORIZED": (403, "forbidden"), "NOT_FOUND": (404, "not-found")}


class SearchError(ValueError):
    """A search the API cannot answer; the message says what to send instead."""


def _fhir(document: dict[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(document, indent=2), status=status, mimetype=FHIR_JSON)


def _outcome(status: int, code: str, text: str) -> Response:
    issue = {"severity": "error", "code": code, "diagnostics": text}
    return _fhir({"resourceType": "OperationOutcome", "issue": [issue]}, status)


@bp.before_request
def _signed_in() -> Response | None:
    if g.get("user") is None:
        return _outcome(401, "login", "sign in first (POST /login); the API answers as the signed-in member")
    return None


@bp.errorhandler(SearchError)
def _bad_search(exc: SearchError) -> Response:
    return _outcome(400, "invalid", str(exc))


@bp.errorhandler(ChaincodeRefusal)
def _refused(exc: ChaincodeRefusal) -> Response:
    status, code = _REFUSALS.get(exc.code, (400, "processing"))
    return _outcome(status, code, exc.reason)


@bp.errorhandler(GatewayError)
def _unavailable(exc: GatewayError) -> Response:
    return _outcome(503, "transient", "the ledger could not be reached; retry")


@bp.route("/metadata")
def metadata() -> Response:
    resources = [
        {
            "type": kind,
            "interaction": [{"code": "search-type"}],
            "searchParam": [
                {"name": "patient", "type": "token", "documentation": "the patient's member id (required)"},
                {"name": "date", "type": "date", "documentation": f"{element}, with eq/ge/gt/le/lt prefixes"},
            ],
        }
        for kind, (_, element) in SEARCHES.items()
    ]
    return _fhir(
        {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "kind": "instance",
            "software": {"name": "CareLedger hospital app"},
            "implementation": {"description": "Consents, access trail and model runs of the CareLedger ledger"},
            "fhirVersion": "4.0.1",
            "format": ["json"],
            "rest": [{"mode": "server", "resource": resources}],
        }
    )


@bp.route("/<kind>")
def search(kind: str) -> Response:
    if kind not in SEARCHES:
        return _outcome(404, "not-supported", f"{kind} cannot be searched here; searchable: {', '.join(SEARCHES)}")
    patient = request.args.get("patient", "")
    if not patient:
        raise SearchError("give the patient: ?patient=<member id>")
    read, element = SEARCHES[kind]
    filters = [_date_filter(value) for value in request.args.getlist("date")]
    found = [r for r in read(current_session(), patient) if all(f(_moment(r[element])) for f in filters)]
    count, page = _number("_count", 50, MAX_COUNT), _number("_page", 1, 10**6)
    pages = max(1, math.ceil(len(found) / count))
    shown = found[(page - 1) * count : page * count]
    bundle = fhir.bundle(shown)
    for entry in bundle.get("entry", []):
        entry["search"] = {"mode": "match"}
    links = [{"relation": "self", "url": _page_url(page)}]
    if page < pages:
        links.append({"relation": "next", "url": _page_url(page + 1)})
    return _fhir({**bundle, "type": "searchset", "total": len(found), "link": links})


def _date_filter(value: str) -> Callable[[datetime], bool]:
    prefix, text = (value[:2], value[2:]) if value[:2] in _COMPARATORS else ("eq", value)
    try:
        moment = _moment(text if "T" in text else f"{text}T00:00:00Z")
    except ValueError:
        raise SearchError(
            f"date={value!r}: write a date or instant, e.g. ge2026-01-01 or lt2026-06-30T12:00:00Z"
        ) from None
    return lambda other: _COMPARATORS[prefix](other, moment)


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _number(name: str, default: int, most: int) -> int:
    raw = request.args.get(name, str(default))
    if not raw.isdigit() or not 1 <= int(raw) <= most:
        raise SearchError(f"{name} must be a whole number from 1 to {most}")
    return int(raw)


def _page_url(page: int) -> str:
    args = request.args.to_dict(flat=False)
    args["_page"] = [str(page)]
    return f"{request.base_url}?{urlencode(args, doseq=True)}"
