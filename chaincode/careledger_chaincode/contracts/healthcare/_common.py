"""What every part of the healthcare contract shares: argument validation, the caller, keys, JSON, time.

Rules: the caller's org, role and member id come from the certificate only; state is JSON with
sorted keys; time is the transaction's timestamp; nothing is random; indexes are composite keys.
"""

from __future__ import annotations

import datetime
import json
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ...runtime import (
    FAILED_PRECONDITION,
    INVALID_ARGUMENT,
    NOT_AUTHORIZED,
    NOT_FOUND,
    ChaincodeError,
    Context,
)

# -- vocabularies -------------------------------------------------------------------------------------------
ROLES = ("patient", "clinician", "researcher", "auditor", "admin")
PURPOSES = ("treatment", "diagnosis-ai", "research")
RESOURCE_TYPES = (
    "Observation",
    "DiagnosticReport",
    "Condition",
    "Procedure",
    "MedicationStatement",
    "ImagingStudy",
    "DocumentReference",
    "Bundle",
)
ORG_MEMBER_PREFIX = "org:"
MAX_BATCH = 500
MAX_PAGE = 1000
DEFAULT_PAGE = 50

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$")
_ORG_ID = re.compile(r"^org:[A-Za-z][A-Za-z0-9-]{0,39}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_SLUG = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
_TX_ID = re.compile(r"^[0-9a-f]{64}$")


def authority_msp() -> str:
    """The MSP whose auditors approve models and read every audit trail.

    Set by the orchestrator from network/consortium.yaml, identically for every org's chaincode server.
    """
    return os.environ.get("CARELEDGER_AUTHORITY_MSP", "HealthAuthorityMSP")


# -- errors ---------------------------------------------------------------------------------------------------
def invalid(message: str) -> ChaincodeError:
    return ChaincodeError(INVALID_ARGUMENT, message)


def denied(message: str) -> ChaincodeError:
    return ChaincodeError(NOT_AUTHORIZED, message)


def not_found(message: str) -> ChaincodeError:
    return ChaincodeError(NOT_FOUND, message)


def precondition(message: str) -> ChaincodeError:
    return ChaincodeError(FAILED_PRECONDITION, message)


# -- JSON ------------------------------------------------------------------------------------------------------
def canonical(value: Any) -> bytes:
    """Deterministic JSON: sorted keys, no whitespace, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def load(raw: bytes) -> Any:
    return json.loads(raw)


def json_object(text: str, what: str, max_bytes: int = 1_000_000) -> dict[str, Any]:
    if len(text) > max_bytes:
        raise invalid(f"{what} is larger than {max_bytes} bytes")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise invalid(f"{what} is not valid JSON ({exc.msg} at position {exc.pos})") from None
    if not isinstance(value, dict):
        raise invalid(f"{what} must be a JSON object")
    return value


class Shape:
    """Checks one JSON object's fields: required, optional and nothing else."""

    def __init__(self, doc: dict[str, Any], what: str, required: Iterable[str], optional: Iterable[str] = ()) -> None:
        self.doc, self.what = doc, what
        required, optional = tuple(required), tuple(optional)
        missing = [k for k in required if k not in doc]
        if missing:
            raise invalid(f"{what} is missing {', '.join(missing)}")
        unknown = sorted(set(doc) - set(required) - set(optional))
        if unknown:
            raise invalid(
                f"{what} has unknown field(s) {', '.join(unknown)}; allowed: {', '.join(required + optional)}"
            )

    def _name(self, key: str) -> str:
        return f"{self.what}.{key}"

    def string(self, key: str, check: Callable[[str, str], str] | None = None, default: str | None = None) -> str:
        value = self.doc.get(key, default)
        if not isinstance(value, str):
            raise invalid(f"{self._name(key)} must be a string")
        return check(value, self._name(key)) if check else value

    def integer(self, key: str, low: int, high: int, default: int | None = None) -> int:
        value = self.doc.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise invalid(f"{self._name(key)} must be an integer from {low} to {high}")
        return value

    def items(self, key: str, item: Callable[[Any, str], Any], max_items: int, min_items: int = 0) -> list[Any]:
        value = self.doc.get(key, [])
        if not isinstance(value, list) or not min_items <= len(value) <= max_items:
            raise invalid(f"{self._name(key)} must be a list of {min_items} to {max_items} items")
        out = [item(v, f"{self._name(key)}[{i}]") for i, v in enumerate(value)]
        if len({canonical(v) for v in out}) != len(out):
            raise invalid(f"{self._name(key)} has duplicate items")
        return out

    def object(self, key: str, default: dict[str, Any] | None = None) -> dict[str, Any]:
        value = self.doc.get(key, default)
        if not isinstance(value, dict):
            raise invalid(f"{self._name(key)} must be a JSON object")
        return value


def member_id(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _ID.match(value):
        raise invalid(f"{what} must be an id: a letter or digit, then up to 127 of letters, digits, '.', '_', '@', '-'")
    return value


def recipient_id(value: Any, what: str) -> str:
    """A member id, or `org:<MSP id>` for an organization."""
    if isinstance(value, str) and _ORG_ID.match(value):
        return value
    return member_id(value, what)


def sha256_hex(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _SHA256.match(value):
        raise invalid(f"{what} must be a SHA-256 digest: 64 lower-case hex characters")
    return value


def tx_id(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _TX_ID.match(value):
        raise invalid(f"{what} must be a transaction id: 64 lower-case hex characters")
    return value


def slug(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _SLUG.match(value):
        raise invalid(f"{what} must be lower-case letters, digits and '-', starting with a letter (at most 40)")
    return value


def enum(choices: tuple[str, ...]) -> Callable[[Any, str], str]:
    def check(value: Any, what: str) -> str:
        if value not in choices:
            raise invalid(f"{what} must be one of {', '.join(choices)}")
        return str(value)

    return check


def text(max_len: int, min_len: int = 1) -> Callable[[Any, str], str]:
    def check(value: Any, what: str) -> str:
        if not isinstance(value, str) or not min_len <= len(value) <= max_len:
            raise invalid(f"{what} must be text of {min_len} to {max_len} characters")
        return value

    return check


def jwe(value: Any, what: str) -> dict[str, Any]:
    """A wrapped key: a JWE in JSON serialization (RFC 7516 section 7.2), at most 4 KiB."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise invalid(f"{what} must be a JWE in JSON serialization") from None
    if not isinstance(value, dict) or len(canonical(value)) > 4096:
        raise invalid(f"{what} must be a JWE JSON object of at most 4 KiB")
    has_recipient = "encrypted_key" in value or isinstance(value.get("recipients"), list)
    if not all(isinstance(value.get(k), str) for k in ("ciphertext", "iv", "tag")) or not has_recipient:
        raise invalid(f"{what} must have ciphertext, iv, tag and a recipient (encrypted_key or recipients)")
    return value


# -- time -----------------------------------------------------------------------------------------------------
def iso(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def now(ctx: Context) -> str:
    return iso(ctx.stub.timestamp)


def timestamp(value: Any, what: str) -> str:
    """An ISO 8601 time with a time zone, normalised to UTC."""
    if not isinstance(value, str) or len(value) > 40:
        raise invalid(f"{what} must be an ISO 8601 time with a time zone, e.g. 2026-12-31T23:59:59Z")
    try:
        moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise invalid(f"{what} must be an ISO 8601 time with a time zone, e.g. 2026-12-31T23:59:59Z") from None
    if moment.tzinfo is None:
        raise invalid(f"{what} needs a time zone (end it with Z for UTC)")
    return iso(moment)


# -- the caller -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Caller:
    msp_id: str
    role: str
    member_id: str

    @property
    def org_member(self) -> str:
        return ORG_MEMBER_PREFIX + self.msp_id

    @property
    def is_authority_auditor(self) -> bool:
        return self.role == "auditor" and self.msp_id == authority_msp()


def caller(ctx: Context) -> Caller:
    identity = ctx.stub.identity
    role = identity.attribute("role") or ""
    mid = identity.attribute("member_id") or ""
    if role not in ROLES:
        raise denied("the caller's certificate has no CareLedger role attribute; enroll with role and member_id")
    if not _ID.match(mid):
        raise denied("the caller's certificate has no valid member_id attribute")
    return Caller(msp_id=identity.msp_id, role=role, member_id=mid)


def require_role(who: Caller, *roles: str) -> None:
    if who.role not in roles:
        raise denied(f"role {who.role} may not do this; it needs role {' or '.join(roles)}")


def require_authority_auditor(who: Caller) -> None:
    if not who.is_authority_auditor:
        raise denied(f"only auditors of {authority_msp()} may do this")


# -- keys ---------------------------------------------------------------------------------------------------------
def key(ctx: Context, kind: str, *parts: str) -> str:
    return ctx.stub.create_composite_key(kind, list(parts))


def get_json(ctx: Context, kind: str, *parts: str) -> dict[str, Any] | None:
    raw = ctx.stub.get_state(key(ctx, kind, *parts))
    return load(raw) if raw else None


def put_json(ctx: Context, value: Any, kind: str, *parts: str) -> None:
    ctx.stub.put_state(key(ctx, kind, *parts), canonical(value))


def event(ctx: Context, name: str, payload: dict[str, Any]) -> None:
    ctx.stub.set_event(name, canonical(payload))


def key_history(ctx: Context, kind: str, *parts: str) -> list[dict[str, Any]]:
    """Every committed value of a key, newest first, with the transaction that wrote it."""
    return [
        {
            "tx_id": m.tx_id,
            "time": m.timestamp.isoformat(),
            "deleted": m.is_delete,
            "value": load(m.value) if m.value else None,
        }
        for m in ctx.stub.get_history_for_key(key(ctx, kind, *parts))
    ]


# -- pagination ----------------------------------------------------------------------------------------------------
def page_args(page_size: str, bookmark: str) -> tuple[int, str]:
    try:
        size = int(page_size) if page_size else DEFAULT_PAGE
    except ValueError:
        raise invalid(f"page_size must be an integer from 1 to {MAX_PAGE}") from None
    if not 1 <= size <= MAX_PAGE:
        raise invalid(f"page_size must be an integer from 1 to {MAX_PAGE}")
    if len(bookmark) > 1024:
        raise invalid("bookmark is too long: pass back the bookmark of the previous page")
    return size, bookmark


def page(
    ctx: Context,
    kind: str,
    parts: list[str],
    page_size: str,
    bookmark: str,
    keep: Callable[[dict[str, Any]], bool] | None = None,
) -> dict[str, Any]:
    size, mark = page_args(page_size, bookmark)
    rows, next_mark = ctx.stub.get_state_by_partial_composite_key_paginated(kind, parts, size, mark)
    items = [load(v) for _, v in rows]
    if keep is not None:
        items = [i for i in items if keep(i)]
    return {"items": items, "bookmark": next_mark}
