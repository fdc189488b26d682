"""The lists a key recovery waits on: per custodian, the records whose key entry for the recovered member that
custodian still has to re-wrap (key_recovery.py tells the protocol).

Storage: ("key-recovery-wait", member, custodian MSP) the record ids, sorted; the key exists only while its list
is not empty.
"""

from __future__ import annotations

from typing import Any

from ...runtime import Context
from ._compromised import jwe_kid
from ._key_entries import wkey_key
from ._proxy import PROXY, PROXY_BY_PROXY
from ._state import PRIVATE, canonical, key, load
from .consent import GRANT_BY_GRANTEE
from .records import GRANT, PATIENT_RECORD, RECORD

REWRAP_WAIT = "key-recovery-wait"


def holdings(ctx: Context, mid: str) -> list[str]:
    """The records whose key the member holds: its own (as patient), and those of its active grants and proxy
    relations. Public indexes only: a range over private data would make the transaction's writes invalid."""
    ids = {
        ctx.stub.split_composite_key(k)[1][1]
        for k, _ in ctx.stub.get_state_by_partial_composite_key(PATIENT_RECORD, [mid])
    }
    grant_ids = [
        ctx.stub.split_composite_key(k)[1][1]
        for k, _ in ctx.stub.get_state_by_partial_composite_key(GRANT_BY_GRANTEE, [mid])
    ]
    grants = [load(g) for g in ctx.stub.get_states([key(ctx, GRANT, g) for g in grant_ids]) if g]
    patients = [
        ctx.stub.split_composite_key(k)[1][1]
        for k, _ in ctx.stub.get_state_by_partial_composite_key(PROXY_BY_PROXY, [mid])
    ]
    relations = [load(r) for r in ctx.stub.get_states([key(ctx, PROXY, p, mid) for p in patients]) if r]
    for holding in [*grants, *relations]:
        if holding["status"] == "active":
            ids.update(holding["keyed_records"])
    return sorted(ids)


def waiting_by_custodian(ctx: Context, mid: str) -> dict[str, list[str]]:
    """custodian MSP -> the active records whose key entry for the member exists (and so awaits a re-wrap)."""
    ids = holdings(ctx, mid)
    records = [load(r) if r else None for r in ctx.stub.get_states([key(ctx, RECORD, r) for r in ids])]
    entries = ctx.stub.get_states([wkey_key(ctx, r, mid) for r in ids], PRIVATE)
    waiting: dict[str, list[str]] = {}
    for rid, record, entry in zip(ids, records, entries, strict=True):
        if record is not None and record["status"] == "active" and entry is not None:
            waiting.setdefault(record["custodian"], []).append(rid)
    return waiting


def waiting_records(ctx: Context, mid: str, custodian: str) -> list[str]:
    raw = ctx.stub.get_state(key(ctx, REWRAP_WAIT, mid, custodian))
    return list(load(raw)) if raw else []


def set_waiting(ctx: Context, mid: str, custodian: str, record_ids: list[str]) -> None:
    wait_key = key(ctx, REWRAP_WAIT, mid, custodian)
    if record_ids:
        ctx.stub.put_state(wait_key, canonical(sorted(record_ids)))
    else:
        ctx.stub.del_state(wait_key)


def needs_nothing(record: dict[str, Any] | None, entry: dict[str, Any] | None, new_kid: str) -> bool:
    """Whether a record on a recovery's list needs no re-wrap any more: erased (or gone), the member's entry for it
    gone (its holding ended), or that entry wrapped for the new key already (a version keyed meanwhile)."""
    return record is None or record["status"] != "active" or entry is None or jwe_kid(entry["jwe"]) == new_kid
