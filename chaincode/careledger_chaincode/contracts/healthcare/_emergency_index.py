"""The indexes an emergency access writes, for its review and for the custodian's key release (emergencies.py).

EmergencyAccess (access.py) calls `index_emergency` once it has decided. Each index key ends in the access
transaction's id, so a page of any of them loads the ("access", tx) documents (_paging.index_page):
- ("emergency", time, tx) and ("emergency-c", custodian, time, tx): every emergency, and those touching each
  custodian's records;
- ("emergency-open", time, tx) and ("emergency-open-c", custodian, time, tx): those not reviewed yet, deleted
  by the review;
- ("emergency-key-wait", custodian, time, tx): those that opened records of another organization's custody
  whose key the requester does not hold, deleted once that custodian has released every such key.
Emergencies made before these indexes existed are in none of them (they stay in the audit views).
"""

from __future__ import annotations

from typing import Any

from ...runtime import Context
from ._state import canonical, key

EMERGENCY = "emergency"
EMERGENCY_BY_CUSTODIAN = "emergency-c"
UNREVIEWED = "emergency-open"
UNREVIEWED_BY_CUSTODIAN = "emergency-open-c"
AWAITING_RELEASE = "emergency-key-wait"
_MARK = b"\x00"


def custodians_of(access: dict[str, Any]) -> list[str]:
    """The custodians of the records an access decided on (records that exist)."""
    return sorted({d["custodian"] for d in access["decisions"] if d["custodian"]})


def awaiting_key(decisions: list[dict[str, Any]]) -> dict[str, list[str]]:
    """custodian -> the allowed records whose key the requester does not hold, from an access's answers."""
    waiting: dict[str, list[str]] = {}
    for d in decisions:
        if d["decision"] == "allowed" and d.get("key_available") is False:
            waiting.setdefault(d["custodian"], []).append(d["record_id"])
    return waiting


def index_emergency(ctx: Context, access: dict[str, Any], decisions: list[dict[str, Any]]) -> None:
    """Index a just-decided emergency access (`access` as stored, `decisions` as answered)."""
    at, txid = access["time"], access["tx_id"]
    ctx.stub.put_state(key(ctx, EMERGENCY, at, txid), _MARK)
    ctx.stub.put_state(key(ctx, UNREVIEWED, at, txid), _MARK)
    for custodian in custodians_of(access):
        ctx.stub.put_state(key(ctx, EMERGENCY_BY_CUSTODIAN, custodian, at, txid), _MARK)
        ctx.stub.put_state(key(ctx, UNREVIEWED_BY_CUSTODIAN, custodian, at, txid), _MARK)
    for custodian, records in awaiting_key(decisions).items():  # the value: the records still awaiting
        ctx.stub.put_state(key(ctx, AWAITING_RELEASE, custodian, at, txid), canonical(records))


def mark_reviewed(ctx: Context, access: dict[str, Any]) -> None:
    at, txid = access["time"], access["tx_id"]
    ctx.stub.del_state(key(ctx, UNREVIEWED, at, txid))
    for custodian in custodians_of(access):
        ctx.stub.del_state(key(ctx, UNREVIEWED_BY_CUSTODIAN, custodian, at, txid))


def mark_released(ctx: Context, access: dict[str, Any], custodian: str) -> None:
    ctx.stub.del_state(key(ctx, AWAITING_RELEASE, custodian, access["time"], access["tx_id"]))
