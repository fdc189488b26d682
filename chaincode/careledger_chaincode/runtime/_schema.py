"""JSON Schemas of what transaction functions take and return, for their metadata.

A function declares each argument and its result either as a JSON Schema (a mapping, taken as it is, but
for any Python type met in it) or as a Python type, converted here: str, int, float, bool, None, Any,
list[X], dict[str, X], Literal[...], unions of those, and TypedDicts (NotRequired keys are optional). A
TypedDict becomes a named component (`#/components/schemas/<Name>`) referred to with `$ref`; a generic one
(Page[Item]) is written out where it is used, its type variables bound. Only keywords the
fabric-contract-api metadata schema allows are produced (no anyOf, no const), so a union of a document and
null, say, cannot be expressed.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from typing import (
    Any,
    Literal,
    NotRequired,
    Required,
    TypeVar,
    Union,
    get_args,
    get_origin,
    get_type_hints,
    is_typeddict,
)

Schema = dict[str, Any]
COMPONENTS = "#/components/schemas/"
_PLAIN = {str: "string", int: "integer", float: "number", bool: "boolean", type(None): "null"}
_JSON_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean"}


class Components:
    """The named schemas of the documents met so far: the metadata's `components.schemas`."""

    def __init__(self) -> None:
        self.schemas: dict[str, Schema] = {}
        self._types: dict[str, Any] = {}

    def schema(self, spec: Any) -> Schema:
        """The JSON Schema of `spec`: a schema given as a mapping, or a type to convert."""
        if isinstance(spec, Mapping):
            return {keyword: self._literal(value) for keyword, value in spec.items()}
        return self._convert(spec, {})

    def _literal(self, value: Any) -> Any:
        """A value of a schema given as data: JSON as it is, a schema in it likewise, a type converted."""
        if isinstance(value, Mapping):
            return {k: self._literal(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._literal(v) for v in value]
        if value is None or isinstance(value, str | int | float | bool):
            return value
        return self._convert(value, {})

    def _convert(self, tp: Any, bound: Mapping[Any, Any]) -> Schema:
        if isinstance(tp, TypeVar):
            if tp not in bound:
                raise TypeError(f"type variable {tp} is not bound")
            return self._convert(bound[tp], bound)
        if tp is Any:
            return {}
        if tp in _PLAIN or tp is None:
            return {"type": _PLAIN[type(None) if tp is None else tp]}
        if is_typeddict(tp):
            return self._named(tp)
        origin, args = get_origin(tp), get_args(tp)
        if origin in (NotRequired, Required):
            return self._convert(args[0], bound)
        if origin is list:
            return {"type": "array", "items": self._convert(args[0], bound)} if args else {"type": "array"}
        if origin is dict:
            if not args or args[0] is not str:
                raise TypeError(f"{tp}: JSON objects have string keys")
            values = self._convert(args[1], bound)
            return {"type": "object", "additionalProperties": values} if values else {"type": "object"}
        if origin is Literal:
            kinds = {_JSON_TYPES.get(type(a)) for a in args}
            return {"type": kinds.pop(), "enum": list(args)} if len(kinds) == 1 else {"enum": list(args)}
        if origin in (Union, types.UnionType):
            return _union([self._convert(a, bound) for a in args], tp)
        if origin is not None and is_typeddict(origin):
            params = getattr(origin, "__parameters__", ())
            return self._object(origin, {**bound, **dict(zip(params, args, strict=True))})
        raise TypeError(f"no JSON Schema for {tp!r}")

    def _named(self, tp: Any) -> Schema:
        name = tp.__name__
        if self._types.get(name, tp) is not tp:
            raise TypeError(f"two different documents are named {name}")
        if name not in self._types:
            self._types[name] = tp
            self.schemas[name] = {"$id": name, **self._object(tp, {})}
        return {"$ref": COMPONENTS + name}

    def _object(self, tp: Any, bound: Mapping[Any, Any]) -> Schema:
        hints = get_type_hints(tp, include_extras=True)
        schema: Schema = {"type": "object"}
        if tp.__doc__:  # a TypedDict without a docstring has __doc__ None (never dict's)
            schema["description"] = " ".join(tp.__doc__.split())
        schema["properties"] = {name: self._convert(hint, bound) for name, hint in hints.items()}
        required = [name for name, hint in hints.items() if get_origin(hint) is not NotRequired]
        if required:  # draft 4: a `required` list is never empty
            schema["required"] = required
        schema["additionalProperties"] = False
        return schema


def _union(members: list[Schema], tp: Any) -> Schema:
    """A union of plain types, as one schema with a list of types."""
    merged: Schema = {}
    kinds: list[str] = []
    for member in members:
        kind = member.get("type")
        if not isinstance(kind, str) or "$ref" in member or "enum" in member:
            raise TypeError(f"{tp}: only unions of plain types have a JSON Schema here")
        kinds.append(kind)
        for keyword, value in member.items():
            if keyword != "type" and merged.setdefault(keyword, value) != value:
                raise TypeError(f"{tp}: its members disagree on {keyword}")
    return {"type": kinds, **merged}
