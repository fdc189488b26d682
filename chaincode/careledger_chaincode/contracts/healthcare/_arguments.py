"""Checking a transaction's arguments: JSON objects of a known shape, ids, digests, words, wrapped keys,
page sizes. Every check refuses with INVALID_ARGUMENT and says which field and what it must be."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any

from ._refusals import invalid
from ._state import canonical

MAX_BATCH = 500  # records in one access request, inference batch or grant
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_SLUG = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
_TX_ID = re.compile(r"^[0-9a-f]{64}$")


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

    def number(self, key: str) -> int | float:
        value = self.doc.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise invalid(f"{self._name(key)} must be a number")
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


def refuse_in_arguments(doc: dict[str, Any], *fields: str) -> None:
    """Fields that must travel as transient data: in the arguments they would be in the block for good."""
    present = [f for f in fields if f in doc]
    if present:
        raise invalid(
            f"{', '.join(present)} must be sent as transient data (transient field of the same name), not as an "
            "argument: arguments are stored in the block and readable by every channel member that reads blocks"
        )
