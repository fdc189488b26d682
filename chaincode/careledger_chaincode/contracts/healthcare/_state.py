"""The contract's state: JSON values under composite keys, the private collection, transient data, events,
history and pages.

Rules: state is JSON with sorted keys; nothing is random; indexes are composite keys. What a block
reader must not see (wrapped keys, free text, model outputs) is written to the private collection
PRIVATE (blocks then carry only its hash) and arrives as transient data, never as an argument.
"""

from __future__ import annotations

import json
from typing import Any

from careledger_protocol import PRIVATE_COLLECTION, Event

from ...runtime import Context
from ._refusals import invalid

# The private data collection every application organization's peers hold (the network generates its
# definition). One collection for all, not one per pair of organizations: a decision is endorsed by a
# majority of organizations, and each endorser must read the same private entries.
PRIVATE = PRIVATE_COLLECTION


def canonical(value: Any) -> bytes:
    """Deterministic JSON: sorted keys, no whitespace, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def load(raw: bytes) -> Any:
    return json.loads(raw)


def key(ctx: Context, kind: str, *parts: str) -> str:
    return ctx.stub.create_composite_key(kind, list(parts))


def get_json(ctx: Context, kind: str, *parts: str) -> dict[str, Any] | None:
    raw = ctx.stub.get_state(key(ctx, kind, *parts))
    return load(raw) if raw else None


def get_many_json(ctx: Context, kind: str, ids: list[str]) -> dict[str, dict[str, Any]]:
    """The documents (kind, id) that exist, by id, read in one round trip."""
    raw = ctx.stub.get_states([key(ctx, kind, i) for i in ids])
    return {i: load(v) for i, v in zip(ids, raw, strict=True) if v}


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


def transient_json(ctx: Context, name: str, what: str, required: bool = False) -> Any:
    """A JSON value sent as transient data (kept out of the block); None when not sent, unless `required`."""
    raw = ctx.stub.transient.get(name)
    if raw is None:
        if required:
            raise invalid(f"send {what} as the transient field {name!r} (it never goes in the block)")
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise invalid(f"transient field {name!r} ({what}) is not valid JSON") from None


def event(ctx: Context, name: Event, payload: dict[str, Any]) -> None:
    ctx.stub.set_event(name.value, canonical(payload))


def summary(doc: dict[str, Any], fields: tuple[str, ...], id_as: str = "") -> dict[str, Any]:
    """What an event tells about a document: the named fields, and its "id" renamed id_as (events of
    different kinds travel together, so a bare "id" would be ambiguous)."""
    return {**({id_as: doc["id"]} if id_as else {}), **{name: doc[name] for name in fields}}


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
