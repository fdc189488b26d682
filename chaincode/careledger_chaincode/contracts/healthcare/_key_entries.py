"""Key entries: the record key wrapped per recipient (kind "wkey", per record and recipient), as private data.

An entry holds its wrapped key (`jwe`), the record version it opens, and why the recipient holds it: roles
("patient"/"custodian") and grants or proxy relations with their terms (see policy). Blocks carry only its
hash; erasing the record or ending a grant purges it from every peer. Wrapped keys arrive as the transient
field `wrapped_keys`, never as arguments, and none is accepted for a compromised key (_compromised).
"""

from __future__ import annotations

from typing import Any

from ...runtime import Context
from ._arguments import jwe
from ._caller import ORG_MEMBER_PREFIX, Caller
from ._compromised import refuse_wrapping
from ._refusals import invalid, precondition
from ._state import PRIVATE, key, load, purge_private, put_private, transient_json
from .policy import Entry

WKEY = "wkey"
# Public (record, grantee): who holds a private key entry by a grant. Fabric refuses writes in a transaction
# that ran a range query over private data (its phantoms cannot be validated), so writers find entries
# through this public index; it names nothing that the grants, which are public, do not name already.
# The patient's and the custodian's entries are found from the record itself (every record has both).
KEY_HOLDER = "wkey-holder"


def wkey_key(ctx: Context, record_id: str, recipient: str) -> str:
    return key(ctx, WKEY, record_id, recipient)


def role_holders(record: dict[str, Any]) -> tuple[str, str]:
    """The recipients every record has: its patient and its custodian organization."""
    return record["patient_id"], ORG_MEMBER_PREFIX + record["custodian"]


def wkey_entries(ctx: Context, record: dict[str, Any]) -> dict[str, Entry]:
    """Every recipient's entry for one record."""
    rows = ctx.stub.get_state_by_partial_composite_key(KEY_HOLDER, [record["id"]])
    holders = dict.fromkeys([*role_holders(record), *(ctx.stub.split_composite_key(k)[1][1] for k, _ in rows)])
    raw = ctx.stub.get_states([wkey_key(ctx, record["id"], h) for h in holders], PRIVATE)
    return {entry["recipient"]: entry for entry in (load(v) for v in raw if v)}


def caller_entries(ctx: Context, who: Caller, record_ids: list[str]) -> list[tuple[Entry | None, Entry | None]]:
    """The caller's own and its organization's entry for each record, in one read."""
    raw = ctx.stub.get_states(
        [k for r in record_ids for k in (wkey_key(ctx, r, who.member_id), wkey_key(ctx, r, who.org_member))], PRIVATE
    )
    entries = [load(e) if e else None for e in raw]
    return [(entries[2 * n], entries[2 * n + 1]) for n in range(len(record_ids))]


def put_entry(ctx: Context, entry: Entry, new: bool = False) -> None:
    """Write a key entry; a new one held by a grant (not a role) is also indexed (KEY_HOLDER)."""
    put_private(ctx, entry, WKEY, entry["record_id"], entry["recipient"])
    if new and not entry["roles"]:
        ctx.stub.put_state(key(ctx, KEY_HOLDER, entry["record_id"], entry["recipient"]), b"\x00")


def purge_entry(ctx: Context, entry: Entry) -> None:
    purge_private(ctx, wkey_key(ctx, entry["record_id"], entry["recipient"]))
    if not entry["roles"]:
        ctx.stub.del_state(key(ctx, KEY_HOLDER, entry["record_id"], entry["recipient"]))


def release_holding(ctx: Context, holder: str, record_ids: list[str], holding_id: str) -> None:
    """Take one grant or proxy relation (`holding_id`) off `holder`'s key entries of these records; an entry
    nothing holds any more is purged from every peer. Records erased since have no entry left."""
    for raw in ctx.stub.get_states([wkey_key(ctx, r, holder) for r in record_ids], PRIVATE):
        if raw is None:
            continue
        entry = load(raw)
        entry["grants"].pop(holding_id, None)
        if entry["grants"] or entry["roles"]:
            put_entry(ctx, entry)
        else:
            purge_entry(ctx, entry)


def new_entry(record: dict[str, Any], recipient: str, wrapped: dict[str, Any]) -> Entry:
    return {
        "record_id": record["id"],
        "recipient": recipient,
        "jwe": wrapped,
        "version": record["version"],
        "roles": [],
        "grants": {},
    }


def grant_terms(grant: dict[str, Any]) -> dict[str, Any]:
    return {"purposes": grant["purposes"], "valid_from": grant["valid_from"], "valid_until": grant["valid_until"]}


def wrapped_keys(
    ctx: Context, required: set[str], what: str, recipient: str | None = None
) -> dict[str, dict[str, Any]]:
    """The transient `wrapped_keys`, exactly for `required`, none missing, none extra: {recipient: JWE}, or
    {record id: JWE} for the one `recipient` given. None may be wrapped for a compromised key (_compromised)."""
    given = transient_json(ctx, "wrapped_keys", "the record key wrapped per recipient") or {}
    if not isinstance(given, dict):
        raise invalid("transient field 'wrapped_keys' must be a JSON object {recipient: JWE}")
    missing = sorted(required - set(given))
    if missing:
        raise precondition(
            f"{what}: wrapped keys are missing for {', '.join(missing)} (each is in scope or entitled; send them "
            "in the transient field 'wrapped_keys')"
        )
    extra = sorted(set(given) - required)
    if extra:
        raise invalid(f"{what}: {', '.join(extra)} may not receive the record key (no role or active consent)")
    keys = {r: jwe(given[r], f"{what}.wrapped_keys[{r}]") for r in sorted(given)}
    if recipient is not None:
        refuse_wrapping(ctx, recipient, list(keys.values()))
    else:
        for holder, wrapped in keys.items():
            refuse_wrapping(ctx, holder, [wrapped])
    return keys
