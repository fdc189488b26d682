"""The JSON Schemas of the contract's arguments, as GetMetadata publishes them: the value types every
function shares, made from the very patterns and limits the argument checks use (_arguments, _caller,
_time, _paging), and builders for the documents a function takes. Each function declares its arguments'
schemas in its @transaction; the object schemas also give Shape its required and optional fields.

Only keywords of the fabric-contract-api metadata schema (JSON Schema draft 4, without anyOf) are used.
A schema with a `title` is a named value type: the API document explains it once, by that name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from careledger_protocol import MEMBER_ID, MSP_ID, ORG_ID

from ._arguments import _ID, _SHA256, _SLUG, _TX_ID
from ._paging import DEFAULT_PAGE, MAX_BOOKMARK, MAX_PAGE
from ._time import _RFC3339, EARLIEST_YEAR, LATEST_YEAR

Schema = dict[str, Any]


def string_of(pattern: re.Pattern[str] | str, title: str, description: str) -> Schema:
    """A named string type: text matching `pattern`."""
    regex = pattern if isinstance(pattern, str) else pattern.pattern
    return {"type": "string", "title": title, "pattern": regex, "description": description}


def text_of(max_length: int, min_length: int = 1) -> Schema:
    return {"type": "string", "minLength": min_length, "maxLength": max_length}


def one_of(choices: tuple[str, ...] | list[str]) -> Schema:
    return {"type": "string", "enum": list(choices)}


def integer_in(low: int, high: int) -> Schema:
    return {"type": "integer", "minimum": low, "maximum": high}


def number() -> Schema:
    return {"type": "number"}


def list_of(item: Schema, max_items: int, min_items: int = 0, unique: bool = True) -> Schema:
    """A JSON list; Shape.items refuses duplicates, so its lists are `unique`."""
    schema: Schema = {"type": "array", "items": item, "minItems": min_items, "maxItems": max_items}
    if unique:
        schema["uniqueItems"] = True
    return schema


def object_of(required: Mapping[str, Any], optional: Mapping[str, Any] | None = None) -> Schema:
    """A JSON object with these fields and no others; a field's schema may be a type, such as a document's
    TypedDict (GetMetadata converts it)."""
    schema: Schema = {"type": "object", "properties": {**required, **(optional or {})}}
    if required:
        schema["required"] = list(required)
    schema["additionalProperties"] = False
    return schema


def fields(schema: Schema) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(required, optional) fields of an object schema, for Shape."""
    required = tuple(schema.get("required", ()))
    return required, tuple(name for name in schema["properties"] if name not in required)


ID = string_of(
    _ID, "id", "a record, grant or model id: a letter or digit, then up to 127 letters, digits, '.', '_', '@', '-'"
)
SHA256 = string_of(_SHA256, "sha256", "a SHA-256 digest: 64 lower-case hex characters")
TX_ID = string_of(_TX_ID, "tx-id", "a transaction id: 64 lower-case hex characters")
SLUG = string_of(_SLUG, "category", "lower-case letters, digits and '-', starting with a letter (at most 40)")
MEMBER = string_of(MEMBER_ID, "member-id", "a member's ledger id: <member_id>@<MSP id>, e.g. h1-patient-1@Hospital1MSP")
RECIPIENT = string_of(
    f"{MEMBER_ID.pattern}|{ORG_ID.pattern}", "recipient-id", "a member id, or org:<MSP id> for an organization"
)
MSP = string_of(MSP_ID, "msp-id", "an organization's MSP id, such as Hospital1MSP")
TIME = string_of(
    _RFC3339,
    "time",
    f"an RFC 3339 time with a time zone, e.g. 2027-06-30T23:59:59Z, in the years {EARLIEST_YEAR} to {LATEST_YEAR}",
)
PAGE_SIZE = string_of(
    r"^[0-9]*$", "page-size", f"how many items a page holds, 1 to {MAX_PAGE} in decimal; empty for {DEFAULT_PAGE}"
)
BOOKMARK: Schema = {
    "type": "string",
    "title": "bookmark",
    "maxLength": MAX_BOOKMARK,
    "description": "the bookmark the previous page answered; empty for the first page",
}
PAGE = {"page_size": PAGE_SIZE, "bookmark": BOOKMARK}  # the last two arguments of every listing


def or_empty(schema: Schema, meaning: str) -> Schema:
    """A named string type, or "" for `meaning` (e.g. all of them)."""
    return {
        **schema,
        "title": f"{schema['title']} or empty",
        "pattern": f"^$|{schema['pattern']}",
        "description": f"{schema['description']}; empty: {meaning}",
    }
