"""What every part of the healthcare contract shares: argument validation, keys, JSON, private data,
transient data, paging.

Rules: state is JSON with sorted keys; nothing is random; indexes are composite keys. What a block
reader must not see (wrapped keys, free text, model outputs) is written to the private collection
PRIVATE (blocks then carry only its hash) and arrives as transient data, never as an argument.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any

from careledger_protocol import PRIVATE_COLLECTION, PURPOSES, RESOURCE_TYPES, Event

from ...runtime import (
    FAILED_PRECONDITION,
    INVALID_ARGUMENT,
    NOT_AUTHORIZED,
    NOT_FOUND,
    ChaincodeError,
    Context,
)

__all__ = ["PURPOSES", "RESOURCE_TYPES"]  # names of the protocol the contract's modules take from here

# -- vocabularies (the protocol's, re-exported for the contract's modules) -----------------------------------
MAX_BATCH = 500
MAX_PAGE = 1000
DEFAULT_PAGE = 50

# The private data collection every application organization's peers hold (the network generates its
# definition). One collection for all, not one per pair of organizations: a decision is endorsed by a
# majority of organizations, and each endorser must read the same private entries.
PRIVATE = PRIVATE_COLLECTION
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_SLUG = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
_TX_ID = re.compile(r"^[0-9a-f]{64}$")


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


def object_id(value: Any, what: str) -> str:
    """The id of a record, grant or model."""
    if not isinstance(value, str) or not _ID.match(value):
        raise invalid(f"{what} must be an id: a letter or digit, then up to 127 of letters, digits, '.', '_', '@', '-'")
    return value


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


# -- keys ---------------------------------------------------------------------------------------------------------
def key(ctx: Context, kind: str, *parts: str) -> str:
    return ctx.stub.create_composite_key(kind, list(parts))


def get_json(ctx: Context, kind: str, *parts: str) -> dict[str, Any] | None:
    raw = ctx.stub.get_state(key(ctx, kind, *parts))
    return load(raw) if raw else None


def put_json(ctx: Context, value: Any, kind: str, *parts: str) -> None:
    ctx.stub.put_state(key(ctx, kind, *parts), canonical(value))


def get_private(ctx: Context, kind: str, *parts: str) -> dict[str, Any] | None:
    raw = ctx.stub.get_state(key(ctx, kind, *parts), PRIVATE)
    return load(raw) if raw else None


def put_private(ctx: Context, value: Any, kind: str, *parts: str) -> None:
    ctx.stub.put_state(key(ctx, kind, *parts), canonical(value), PRIVATE)


def purge_private(ctx: Context, composite_key: str) -> None:
    """Gone from every peer's private store and its history; only the hash stays in the block."""
    ctx.stub.purge_private_data(PRIVATE, composite_key)


def transient_json(ctx: Context, name: str, what: str) -> Any:
    """A JSON value sent as transient data (kept out of the block), or None when not sent."""
    raw = ctx.stub.transient.get(name)
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise invalid(f"transient field {name!r} ({what}) is not valid JSON") from None


def refuse_in_arguments(doc: dict[str, Any], *fields: str) -> None:
    """Fields that must travel as transient data: in the arguments they would be in the block for good."""
    present = [f for f in fields if f in doc]
    if present:
        raise invalid(
            f"{', '.join(present)} must be sent as transient data (transient field of the same name), not as an "
            "argument: arguments are stored in the block and readable by every channel member that reads blocks"
        )


def event(ctx: Context, name: Event, payload: dict[str, Any]) -> None:
    ctx.stub.set_event(name.value, canonical(payload))


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
