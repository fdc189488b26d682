"""Migrating a ledger written by a previous layout, one version at a time.

Version 2 (organization-qualified ids and private data) changes, kind by kind:
- member ids become `<id>@<MSP>` everywhere they are a key part or a value (members, records, grants,
  access transactions, audit events, the registry, inferences); a public alias (old id -> new id) is
  kept so that later kinds, and people holding old ids, can be resolved;
- key entries ("wkey") move from public state into the private collection, with a public holder index;
- inference outputs move into the private collection (the public entry keeps everything else);
- records remember, in `sealed_for`, the patient id their ciphertexts and wrapped keys are bound to
  (the old id), so clients still open them; a new version binds to the new id.
Version 3: every member's public JWK carries its RFC 7638 thumbprint as `kid`, the name wrapped keys
address it by (registrations set it since).
Version 4: every inference can be found by its name, `<transaction id>:<n>` (an index; new ones get it).
Version 5: every inference is in its model version's use log (GetModelUse; an index, new ones get it).
Version 6: a patient's audit key points at its decision (the value `1`) instead of repeating it: the patient's
view builds each event from the access transaction, as the requester's and the whole log always did.
Version 7: a model version's use log holds one key per batch of inferences (with its count) instead of one per
inference, so that GetModelUse reads a key per batch.
Version 8: inference names (`<transaction id>:<n>`) are one key per batch too, listing each inference's patient
and record: a key fewer written per inference.
Values already on old blocks and in public key history stay there: Fabric cannot purge public state.
The channel ACLs keep raw blocks from patients, clinicians and researchers.

`Migrate` is called by an organization's admin, again and again until it answers done (`make
chaincode-upgrade` does it); each call moves at most `limit` keys of the current kind, so no
transaction grows with the ledger. It is deterministic, resumable and idempotent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from careledger_protocol import INVALID_ARGUMENT, NOT_AUTHORIZED, documents, is_member_id, jwk_thumbprint

from ...runtime import Context, transaction
from . import _schemas as schema
from ._caller import ORG_MEMBER_PREFIX, caller, member_org, require_role
from ._key_entries import KEY_HOLDER, WKEY
from ._refusals import invalid
from ._state import PRIVATE, canonical, get_json, key, load, put_json
from .access import ACCESS, AUDIT_BY_PATIENT, AUDIT_BY_REQUESTER, ONE_DECISION
from .inferences import INFERENCE_BY_MODEL
from .members import MEMBER, MEMBER_BY_ORG
from .models import MODEL
from .records import (
    GRANT,
    GRANT_BY_PATIENT,
    GRANT_BY_PATIENT_CATEGORY,
    INFERENCE,
    INFERENCE_BY_TX,
    PATIENT_RECORD,
    RECORD,
)

LAYOUT = "layout"  # ("layout",) -> {"version": <reached>, "kind": <index>, "after": <last key seen>}
ALIAS = "member-alias"  # (old id) -> new id
GRANT_BY_GRANTEE = "grant-g"
MAX_LIMIT = 500
# Version 2, in the order they are moved: members first, so every later kind can resolve the aliases.
KINDS = (
    MEMBER,
    MEMBER_BY_ORG,
    RECORD,
    PATIENT_RECORD,
    WKEY,
    GRANT,
    GRANT_BY_PATIENT,
    GRANT_BY_GRANTEE,
    GRANT_BY_PATIENT_CATEGORY,
    ACCESS,
    AUDIT_BY_PATIENT,
    AUDIT_BY_REQUESTER,
    MODEL,
    INFERENCE,
)


class _Ids:
    """Old member id -> new one, from the aliases written when the members moved."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.known: dict[str, str] = {}

    def prefetch(self, ids: list[str]) -> None:
        wanted = sorted({i for i in ids if i and i not in self.known and not i.startswith(ORG_MEMBER_PREFIX)})
        for old, raw in zip(wanted, self.ctx.stub.get_states([key(self.ctx, ALIAS, i) for i in wanted]), strict=True):
            self.known[old] = raw.decode() if raw else old

    def __call__(self, old: str) -> str:
        if not old or old.startswith(ORG_MEMBER_PREFIX):
            return old
        if old not in self.known:
            self.prefetch([old])
        return self.known[old]


def _replace(doc: dict[str, Any], ids: _Ids, *fields: str) -> None:
    for name in fields:
        if isinstance(doc.get(name), str):
            doc[name] = ids(doc[name])


def _member(ctx: Context, parts: list[str], value: dict[str, Any], ids: _Ids) -> None:
    old = parts[0]
    if is_member_id(old) or old.startswith(ORG_MEMBER_PREFIX):
        return
    new = f"{old}@{value['org']}"
    ctx.stub.put_state(key(ctx, ALIAS, old), new.encode())
    ids.known[old] = new
    ctx.stub.del_state(key(ctx, MEMBER, old))
    put_json(ctx, {**value, "id": new}, MEMBER, new)


def _record(ctx: Context, parts: list[str], value: dict[str, Any], ids: _Ids) -> None:
    if "sealed_for" in value:
        return
    updated = {**value, "sealed_for": value["patient_id"]}  # the id its ciphertexts were bound to
    _replace(updated, ids, "patient_id", "created_by")
    put_json(ctx, updated, RECORD, *parts)


def _wkey(ctx: Context, parts: list[str], value: dict[str, Any], ids: _Ids) -> None:
    record_id, recipient = parts[0], ids(parts[1])
    entry = {**value, "recipient": recipient}
    ctx.stub.del_state(key(ctx, WKEY, *parts))
    ctx.stub.put_state(key(ctx, WKEY, record_id, recipient), canonical(entry), PRIVATE)
    if not entry["roles"]:  # entries of the patient and the custodian are found from the record
        ctx.stub.put_state(key(ctx, KEY_HOLDER, record_id, recipient), b"\x00")


def _grant(ctx: Context, parts: list[str], value: dict[str, Any], ids: _Ids) -> None:
    updated = dict(value)
    _replace(updated, ids, "patient_id", "grantee")
    if updated != value:
        put_json(ctx, updated, GRANT, *parts)


def _access(ctx: Context, parts: list[str], value: dict[str, Any], ids: _Ids) -> None:
    ids.prefetch([value.get("requester", ""), *(d.get("patient_id", "") for d in value.get("decisions", []))])
    updated = {**value, "decisions": [dict(d) for d in value.get("decisions", [])]}
    _replace(updated, ids, "requester")
    for decision in updated["decisions"]:
        _replace(decision, ids, "patient_id")
    if updated != value:
        put_json(ctx, updated, ACCESS, *parts)


def _model(ctx: Context, parts: list[str], value: dict[str, Any], ids: _Ids) -> None:
    updated = dict(value)
    _replace(updated, ids, "registered_by", "approved_by", "retired_by")
    if updated != value:
        put_json(ctx, updated, MODEL, *parts)


def _rekeyed(kind: str, value_fields: tuple[str, ...] = (), private_output: bool = False) -> Callable[..., None]:
    """A kind whose first key part is a member id (and whose value may name members too)."""

    def move(ctx: Context, parts: list[str], value: Any, ids: _Ids) -> None:
        new_parts = [ids(parts[0]), *parts[1:]]
        doc = dict(value) if isinstance(value, dict) else None
        if doc is not None:
            _replace(doc, ids, *value_fields)
        output = doc.pop("output", None) if doc is not None and private_output else None
        if new_parts == parts and doc == value:
            return
        ctx.stub.del_state(key(ctx, kind, *parts))
        raw = canonical(doc) if doc is not None else canonical(value) if not isinstance(value, bytes) else value
        ctx.stub.put_state(key(ctx, kind, *new_parts), raw)
        if private_output and output is not None:
            ctx.stub.put_state(key(ctx, kind, *new_parts), canonical({"output": output, "salt": ""}), PRIVATE)

    return move


def _index(kind: str, position: int) -> Callable[..., None]:
    """An index key (value b"\\x00") with a member id at `position`."""

    def move(ctx: Context, parts: list[str], value: Any, ids: _Ids) -> None:
        new_parts = list(parts)
        new_parts[position] = ids(parts[position])
        if new_parts != parts:
            ctx.stub.del_state(key(ctx, kind, *parts))
            ctx.stub.put_state(key(ctx, kind, *new_parts), b"\x00")

    return move


_MOVES: dict[str, Callable[..., None]] = {
    MEMBER: _member,
    MEMBER_BY_ORG: _index(MEMBER_BY_ORG, 2),
    RECORD: _record,
    PATIENT_RECORD: _index(PATIENT_RECORD, 0),
    WKEY: _wkey,
    GRANT: _grant,
    GRANT_BY_PATIENT: _index(GRANT_BY_PATIENT, 0),
    GRANT_BY_GRANTEE: _index(GRANT_BY_GRANTEE, 0),
    GRANT_BY_PATIENT_CATEGORY: _index(GRANT_BY_PATIENT_CATEGORY, 0),
    ACCESS: _access,
    AUDIT_BY_PATIENT: _rekeyed(AUDIT_BY_PATIENT, ("requester", "patient_id")),
    AUDIT_BY_REQUESTER: _rekeyed(AUDIT_BY_REQUESTER),
    MODEL: _model,
    INFERENCE: _rekeyed(INFERENCE, ("requester", "patient_id"), private_output=True),
}
_JSON_KINDS = {MEMBER, RECORD, WKEY, GRANT, ACCESS, AUDIT_BY_PATIENT, MODEL, INFERENCE, INFERENCE_BY_MODEL}


def _member_kid(ctx: Context, parts: list[str], value: dict[str, Any], ids: _Ids) -> None:
    jwk = value.get("public_key")
    if not isinstance(jwk, dict) or jwk.get("kid") == jwk_thumbprint(jwk):
        return
    put_json(ctx, {**value, "public_key": {**jwk, "kid": jwk_thumbprint(jwk)}}, MEMBER, *parts)


def _inference_name(ctx: Context, parts: list[str], value: dict[str, Any], ids: _Ids) -> None:
    if ctx.stub.get_state(key(ctx, INFERENCE_BY_TX, value["tx_id"])) is not None:
        return  # its batch is named already (layout 8): a rescan must not name it again
    ctx.stub.put_state(key(ctx, INFERENCE_BY_TX, value["tx_id"], f"{value['n']:04d}"), canonical(parts))


def _inference_use(ctx: Context, parts: list[str], value: dict[str, Any], ids: _Ids) -> None:
    requester = value["requester"]
    ran = {"requester": requester, "requester_org": value.get("requester_org", member_org(requester))}
    batch = (value["model_id"], value["version"], value["time"], value["tx_id"])
    if ctx.stub.get_state(key(ctx, INFERENCE_BY_MODEL, *batch)) is not None:
        return  # its batch is counted already (layout 7): a rescan must not count it again
    ctx.stub.put_state(key(ctx, INFERENCE_BY_MODEL, *batch, f"{value['n']:04d}"), canonical(ran))


def _audit_pointer(ctx: Context, parts: list[str], value: Any, ids: _Ids) -> None:
    if canonical(value) != ONE_DECISION:  # a whole event, as versions before 6 kept it
        ctx.stub.put_state(key(ctx, AUDIT_BY_PATIENT, *parts), ONE_DECISION)


def _join_batch(ctx: Context, kind: str, parts: list[str], batch_size: int) -> list[tuple[list[str], bytes]]:
    """The per-inference keys of `kind` ((*batch, n as 4 digits), where batch has `batch_size` parts) of the batch
    that `parts` belongs to, removed, with their values; [] when there is nothing for this key to do.

    A batch's keys lie next to each other and its first (n 0000) is met first: it gathers them all. The others,
    met in the same call (reads see the state before it), leave the work to that first one rather than doing it
    again for each inference of the batch; a batch key (`batch_size` parts) is already in the new layout."""
    if len(parts) != batch_size + 1:
        return []
    batch = parts[:batch_size]
    if parts[-1] != "0000" and ctx.stub.get_state(key(ctx, kind, *batch, "0000")) is not None:
        return []
    scan = ctx.stub.get_state_by_partial_composite_key(kind, batch)
    try:
        singles = [
            (single, raw)
            for single, raw in ((ctx.stub.split_composite_key(composite)[1], raw) for composite, raw in scan)
            if len(single) == batch_size + 1
        ]
    finally:
        scan.close()
    for single, _ in singles:
        ctx.stub.del_state(key(ctx, kind, *single))
    return singles


def _use_per_batch(ctx: Context, parts: list[str], value: dict[str, Any], ids: _Ids) -> None:
    """Per-inference use keys (model, version, time, tx, n) become their batch's key (model, version, time, tx)."""
    singles = _join_batch(ctx, INFERENCE_BY_MODEL, parts, 4)
    if singles:
        put_json(ctx, {**value, "inferences": len(singles)}, INFERENCE_BY_MODEL, *parts[:4])


def _names_per_batch(ctx: Context, parts: list[str], value: Any, ids: _Ids) -> None:
    """Per-inference name keys (tx, n) -> key parts become their batch's key (tx) listing patient and record by n."""
    singles = [(int(single[1]), load(raw)) for single, raw in _join_batch(ctx, INFERENCE_BY_TX, parts, 1)]
    if not singles:
        return
    names: list[list[str] | None] = [None] * (1 + max(n for n, _ in singles))
    for n, (patient_id, record_id, *_) in singles:
        names[n] = [patient_id, record_id]
    put_json(ctx, {"time": singles[0][1][2], "inferences": names}, INFERENCE_BY_TX, parts[0])


# The moves that reach each version from the one before: STEPS[v - 2] takes a ledger from v - 1 to v.
STEPS: tuple[tuple[tuple[str, Callable[..., None]], ...], ...] = (
    tuple((kind, _MOVES[kind]) for kind in KINDS),
    ((MEMBER, _member_kid),),
    ((INFERENCE, _inference_name),),
    ((INFERENCE, _inference_use),),
    ((AUDIT_BY_PATIENT, _audit_pointer),),
    ((INFERENCE_BY_MODEL, _use_per_batch),),
    ((INFERENCE_BY_TX, _names_per_batch),),
)
CURRENT_VERSION = 1 + len(STEPS)


class MigrationMixin:
    @transaction(
        "Migrate",
        arguments={
            "limit": schema.string_of(r"^[0-9]+$", "limit", f"how many keys to move at most, 1 to {MAX_LIMIT}"),
            "rescan": schema.one_of(("", "yes")),
        },
        returns=documents.Migration,
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED),
    )
    def migrate(self, ctx: Context, limit: str, rescan: str) -> dict[str, Any]:
        """Move up to `limit` keys of the old layout to the new one; answers done when nothing is left.

        `rescan` "yes" starts over on a ledger already migrated (keys written since by an old chaincode
        server, e.g. one an organization had not yet replaced); "" goes on where the last call stopped."""
        require_role(caller(ctx), "admin")
        if rescan not in ("", "yes"):
            raise invalid('rescan must be "yes" or ""')
        try:
            budget = int(limit)
        except ValueError:
            raise invalid(f"limit must be an integer from 1 to {MAX_LIMIT}") from None
        if not 1 <= budget <= MAX_LIMIT:
            raise invalid(f"limit must be an integer from 1 to {MAX_LIMIT}")
        progress = get_json(ctx, LAYOUT) or {"version": 1, "kind": 0, "after": ""}
        if rescan and progress["version"] >= CURRENT_VERSION:
            progress = {"version": 1, "kind": 0, "after": ""}
        if progress["version"] >= CURRENT_VERSION:
            return {"done": True, "version": progress["version"], "moved": 0}
        ids, moved = _Ids(ctx), 0
        version, kind_index, after = progress["version"], progress["kind"], progress["after"]
        if kind_index >= len(STEPS[version - 1]):  # a ledger left done by an older chaincode (kind past its last)
            kind_index, after = 0, ""
        while version < CURRENT_VERSION and moved < budget:
            kind, move = STEPS[version - 1][kind_index]
            scan = ctx.stub.get_state_by_partial_composite_key(kind, [], start_key=after)
            finished = True
            try:
                for composite, raw in scan:
                    if composite == after:
                        continue
                    if moved >= budget:
                        finished = False
                        break
                    parts = ctx.stub.split_composite_key(composite)[1]
                    move(ctx, parts, load(raw) if kind in _JSON_KINDS else raw, ids)
                    after, moved = composite, moved + 1
            finally:
                scan.close()
            if finished:
                kind_index, after = kind_index + 1, ""
                if kind_index == len(STEPS[version - 1]):
                    version, kind_index = version + 1, 0
        state = {"version": version, "kind": kind_index, "after": after}
        put_json(ctx, state, LAYOUT)
        done = version >= CURRENT_VERSION
        step = STEPS[min(version, CURRENT_VERSION - 1) - 1]
        return {"done": done, "version": version, "moved": moved, "kind": step[min(kind_index, len(step) - 1)][0]}
