"""Compromised keys and key recovery: a member's key that was lost or left is never wrapped for again, and a
person who lost their wallet gets their records back under a new key.

1. A clinician leaves or loses a device: their organization revokes the certificate (CRL, careledger-network
   revoke) and its admin, or the member, reports the key compromised (ReportKeyCompromised): from then on no key
   is wrapped for it or released to the member (_compromised), whatever grants they hold.
2. A patient lost their wallet: after identity proofing, the admin of the patient's organization has the CA
   enroll a new certificate for the same member id and opens the recovery (OpenKeyRecovery), naming how the
   identity was proved and the SHA-256 of the new certificate. The old key is compromised from then on.
3. The patient, signing with that new certificate and no other (the lost wallet holds a certificate with the
   same member id until the CRL reaches every peer), registers the new key (RegisterRecoveredKey). The ledger
   lists, per custodian, the patient's key entries still wrapped for the old key: their own records, and the
   records they hold by a grant or as a proxy.
4. Each custodian's system (holding its organization key, like the emergency release) finds the members whose
   recovery awaits it (ListKeyRecoveriesToRewrap), reads each list (GetRecoveryKeysToRewrap: its organization's
   wrapped keys and the new public key), unwraps each key and wraps it for the new key, and hands them in
   (RewrapRecoveredKeys, transient 'wrapped_keys'): the ledger accepts keys only from the custodian's admin, for
   records on its list, wrapped for the new key (the JWE's kid), at the record's current version. A record on
   the list may need nothing any more (erased since, the member's entry gone with its grant, or a new version
   keyed for the new key meanwhile): GetRecoveryKeysToRewrap names it `settled`, and RewrapRecoveredKeys takes
   it off the list when named without a key (_recovery_lists.needs_nothing decides, in both). When every list
   is empty the recovery is completed.
The patient reads the recovery (GetKeyRecovery): who replaced the key, when, and how many records were
re-wrapped. An admin never chooses the key: it only pins the certificate the member registers it from.

Storage: ("key-recovery", member) the recovery (documents.KeyRecovery, its history keeps earlier ones);
("key-recovery-wait", member, custodian MSP) the record ids whose entry for the member awaits that custodian;
it exists only while that list is not empty, and only while the recovery is re-wrapping (registering the key
writes the lists, re-wrapping empties them, opening a recovery again voids the earlier ones).
"""

from __future__ import annotations

from typing import Any

from careledger_protocol import (
    COMPROMISE_REASONS,
    FAILED_PRECONDITION,
    INVALID_ARGUMENT,
    NOT_AUTHORIZED,
    NOT_FOUND,
    PERSON_ROLES,
    PROOFING_METHODS,
    Event,
    documents,
)

from ...runtime import Context, transaction
from . import _schemas as schema
from ._arguments import MAX_BATCH, Shape, enum, json_object, jwe, object_id, refuse_in_arguments, sha256_hex
from ._caller import Caller, caller, certificate_sha256, member_id, member_org, require_role
from ._compromised import RECOVERY, current_key_mark, jwe_kid
from ._key_entries import WKEY, put_entry, wkey_key
from ._paging import page_args
from ._recovery_lists import REWRAP_WAIT, needs_nothing, set_waiting, waiting_by_custodian, waiting_records
from ._refusals import denied, invalid, not_found, precondition
from ._state import PRIVATE, event, get_json, get_private, key, load, put_json, transient_json
from ._time import now
from .members import MEMBER, PUBLIC_KEY, public_jwk, require_member, store_member
from .records import RECORD

REPORT = schema.object_of({"member_id": schema.MEMBER, "reason": schema.one_of(COMPROMISE_REASONS)})
OPEN = schema.object_of(
    {"member_id": schema.MEMBER, "proofing": schema.one_of(PROOFING_METHODS), "certificate_sha256": schema.SHA256}
)
_REWRAPPED = schema.object_of({"record_id": schema.ID, "version": schema.integer_in(1, 2**31)})
REWRAP = schema.object_of({"member_id": schema.MEMBER, "records": schema.list_of(_REWRAPPED, MAX_BATCH, min_items=1)})


def _require_own_admin(who: Caller, target: str) -> None:
    require_role(who, "admin")
    if member_org(target) != who.msp_id:
        raise denied(f"only an admin of {member_org(target)} may do this for {target}")


def mark_compromised(ctx: Context, member: dict[str, Any], by: Caller, reason: str) -> dict[str, Any]:
    """The member's current key joins its compromised keys (once); the member entry is written."""
    if current_key_mark(member) is None:
        mark = {"kid": member["public_key"]["kid"], "since": now(ctx), "by": by.member_id, "reason": reason}
        member = {**member, "compromised_keys": [*member.get("compromised_keys", []), mark]}
        put_json(ctx, member, MEMBER, member["id"])
    return member


def _require_recovery(ctx: Context, mid: str) -> dict[str, Any]:
    recovery = get_json(ctx, RECOVERY, mid)
    if recovery is None:
        raise not_found(f"no key recovery was opened for {mid}")
    return recovery


def _require_rewrapping(ctx: Context, mid: str) -> dict[str, Any]:
    recovery = _require_recovery(ctx, mid)
    if recovery["status"] == "awaiting-key":
        raise precondition(f"{mid} has not registered the new key yet: nothing can be re-wrapped for it")
    return recovery


class KeyRecoveryMixin:
    @transaction(
        "ReportKeyCompromised",
        arguments={"report_json": REPORT},
        returns=documents.Member,
        events=(Event.MEMBER_KEY_COMPROMISED,),
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, NOT_FOUND, FAILED_PRECONDITION),
    )
    def report_key_compromised(self, ctx: Context, report_json: str) -> dict[str, Any]:
        """The member, or an admin of its organization, reports the member's key lost or left (a device lost, a
        clinician gone): nothing is wrapped for it or released to the member from then on."""
        who = caller(ctx)
        shape = Shape(json_object(report_json, "report"), "report", *schema.fields(REPORT))
        target = shape.string("member_id", member_id)
        reason = shape.string("reason", enum(COMPROMISE_REASONS))
        if who.member_id != target:
            _require_own_admin(who, target)
        member = require_member(ctx, target)
        mark = current_key_mark(member)
        if mark is not None:
            raise precondition(f"the key of {target} was reported compromised already, on {mark['since']}")
        member = mark_compromised(ctx, member, who, reason)
        payload = {"member_id": target, "org": member["org"], "kid": member["public_key"]["kid"], "reason": reason}
        event(ctx, Event.MEMBER_KEY_COMPROMISED, {**payload, "by": who.member_id})
        return member

    @transaction(
        "OpenKeyRecovery",
        arguments={"recovery_json": OPEN},
        returns=documents.KeyRecovery,
        events=(Event.KEY_RECOVERY_OPENED,),
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, NOT_FOUND, FAILED_PRECONDITION),
    )
    def open_key_recovery(self, ctx: Context, recovery_json: str) -> dict[str, Any]:
        """An admin of the member's organization, having proved the person's identity and had the CA enroll a new
        certificate for them, opens the recovery of their key: the current key is compromised from now on, and
        only the new certificate (its SHA-256) may register the new key. Opening again replaces an open recovery
        (a wrong certificate named)."""
        who = caller(ctx)
        shape = Shape(json_object(recovery_json, "recovery"), "recovery", *schema.fields(OPEN))
        target = shape.string("member_id", member_id)
        proofing = shape.string("proofing", enum(PROOFING_METHODS))
        pinned = shape.string("certificate_sha256", sha256_hex)
        _require_own_admin(who, target)
        member = require_member(ctx, target)
        if member["role"] not in PERSON_ROLES:
            raise invalid(f"{target} is a {member['role']}: only a person's key is recovered")
        if pinned == certificate_sha256(ctx):
            raise invalid("certificate_sha256 names your own certificate: name the member's new enrollment")
        previous = get_json(ctx, RECOVERY, target)
        for custodian in (previous or {}).get("custodians", {}):  # a recovery started over: its lists are void
            set_waiting(ctx, target, custodian, [])
        member = mark_compromised(ctx, member, who, "recovery")
        recovery = {
            "member_id": target,
            "org": member["org"],
            "status": "awaiting-key",
            "opened_by": who.member_id,
            "opened_at": now(ctx),
            "open_tx_id": ctx.stub.tx_id,
            "proofing": proofing,
            "certificate_sha256": pinned,
            "compromised_kid": member["public_key"]["kid"],
        }
        put_json(ctx, recovery, RECOVERY, target)
        summary = {k: recovery[k] for k in ("member_id", "org", "opened_by", "proofing", "compromised_kid")}
        event(ctx, Event.KEY_RECOVERY_OPENED, summary)
        return recovery

    @transaction(
        "RegisterRecoveredKey",
        arguments={"public_key": PUBLIC_KEY},
        returns=documents.KeyRecovery,
        events=(Event.MEMBER_KEY_RECOVERED,),
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, NOT_FOUND, FAILED_PRECONDITION),
    )
    def register_recovered_key(self, ctx: Context, public_key: str) -> dict[str, Any]:
        """The member, signing with the new certificate its organization's admin named in the recovery, registers
        its new encryption key; the custodians of the records whose key it held are each given the list to
        re-wrap (GetRecoveryKeysToRewrap)."""
        who = caller(ctx)
        jwk = public_jwk(public_key)
        recovery = _require_recovery(ctx, who.member_id)
        if recovery["status"] != "awaiting-key":
            raise precondition(f"the key recovery of {who.member_id} has its new key already ({recovery['new_kid']})")
        if certificate_sha256(ctx) != recovery["certificate_sha256"]:
            raise denied(
                "this certificate is not the new enrollment the recovery names: sign with the certificate your "
                "organization's admin enrolled for you"
            )
        member = store_member(ctx, require_member(ctx, who.member_id), jwk, who, Event.MEMBER_KEY_RECOVERED)
        at = now(ctx)
        waiting = waiting_by_custodian(ctx, who.member_id)
        for custodian, record_ids in waiting.items():
            set_waiting(ctx, who.member_id, custodian, record_ids)
        recovery.update(
            status="rewrapping" if waiting else "completed",
            new_kid=member["public_key"]["kid"],
            key_registered_at=at,
            custodians={c: {"to_rewrap": len(ids), "rewrapped": 0} for c, ids in sorted(waiting.items())},
        )
        if not waiting:
            recovery["completed_at"] = at
        put_json(ctx, recovery, RECOVERY, who.member_id)
        told = {"member_id": who.member_id, "org": member["org"], "new_kid": recovery["new_kid"], "by": who.member_id}
        to_rewrap = sum(len(ids) for ids in waiting.values())
        event(ctx, Event.MEMBER_KEY_RECOVERED, {**told, "custodians": sorted(waiting), "to_rewrap": to_rewrap})
        return recovery

    @transaction(
        "GetKeyRecovery",
        read_only=True,
        arguments={"mid": schema.MEMBER},
        returns=documents.KeyRecovery,
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, NOT_FOUND, FAILED_PRECONDITION),
    )
    def get_key_recovery(self, ctx: Context, mid: str) -> dict[str, Any]:
        """A member's latest key recovery: for the member, its organization's admins and auditors of the health
        authority."""
        who = caller(ctx)
        target = member_id(mid, "member_id")
        own_admin = who.role == "admin" and member_org(target) == who.msp_id
        if not (who.member_id == target or own_admin or who.is_authority_auditor):
            raise denied("only the member, its organization's admins and auditors may read its key recovery")
        return _require_recovery(ctx, target)

    @transaction(
        "GetRecoveryKeysToRewrap",
        read_only=True,
        arguments={"mid": schema.MEMBER},
        returns=documents.RecoveryKeysToRewrap,
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, NOT_FOUND, FAILED_PRECONDITION),
    )
    def get_recovery_keys_to_rewrap(self, ctx: Context, mid: str) -> dict[str, Any]:
        """For a custodian's admin (its systems hold the organization key): its organization's wrapped keys of up to
        500 records whose entry for the recovered member awaits a re-wrap, with the member's new key; and, as
        `settled`, those of the same batch that need nothing any more (erased since, the member's entry gone or
        wrapped for the new key already): name them in RewrapRecoveredKeys without a key to clear the list."""
        who = caller(ctx)
        require_role(who, "admin")
        target = member_id(mid, "member_id")
        recovery = _require_rewrapping(ctx, target)
        member = require_member(ctx, target)
        waiting = waiting_records(ctx, target, who.msp_id)
        batch = waiting[:MAX_BATCH]
        records = [load(r) if r else None for r in ctx.stub.get_states([key(ctx, RECORD, r) for r in batch])]
        wanted = [k for r in batch for k in (wkey_key(ctx, r, target), wkey_key(ctx, r, who.org_member))]
        raw = [load(e) if e else None for e in ctx.stub.get_states(wanted, PRIVATE)]
        keys: list[dict[str, Any]] = []
        settled: list[dict[str, Any]] = []
        for n, (rid, record) in enumerate(zip(batch, records, strict=True)):
            entry, org_entry = raw[2 * n], raw[2 * n + 1]
            if needs_nothing(record, entry, recovery["new_kid"]):
                settled.append({"record_id": rid, "version": record["version"] if record else 1})
            elif record is not None and org_entry is not None:
                keys.append(
                    {
                        "record_id": record["id"],
                        "version": record["version"],
                        "patient_id": record["patient_id"],
                        "sealed_for": record.get("sealed_for", record["patient_id"]),
                        "recipient": who.org_member,
                        "wrapped_key": org_entry["jwe"],
                    }
                )
        return {
            "member_id": target,
            "custodian": who.msp_id,
            "public_key": member["public_key"],
            "keys": keys,
            "settled": settled,
            "remaining": len(waiting),
        }

    @transaction(
        "ListKeyRecoveriesToRewrap",
        read_only=True,
        arguments={**schema.PAGE},
        returns=documents.Page[str],
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED),
    )
    def list_key_recoveries_to_rewrap(self, ctx: Context, page_size: str, bookmark: str) -> dict[str, Any]:
        """For an organization's admin (its systems hold the organization key): the ids of the members whose key
        recovery awaits a re-wrap from its organization, in member id order, paginated over every open list (a
        page may hold fewer items than asked; follow the bookmark). Member ids only: GetRecoveryKeysToRewrap
        gives what to re-wrap for each."""
        who = caller(ctx)
        require_role(who, "admin")
        size, mark = page_args(page_size, bookmark)
        rows, next_mark = ctx.stub.get_state_by_partial_composite_key_paginated(REWRAP_WAIT, [], size, mark)
        lists = [ctx.stub.split_composite_key(k)[1] for k, _ in rows]  # [member, custodian]: the keys say it all
        return {"items": [mid for mid, custodian in lists if custodian == who.msp_id], "bookmark": next_mark}

    @transaction(
        "RewrapRecoveredKeys",
        arguments={"rewrap_json": REWRAP},
        returns=documents.KeyRecovery,
        events=(Event.MEMBER_KEYS_REWRAPPED,),
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, NOT_FOUND, FAILED_PRECONDITION),
    )
    def rewrap_recovered_keys(self, ctx: Context, rewrap_json: str) -> dict[str, Any]:
        """A custodian's admin hands in record keys re-wrapped for a recovered member's new key: the transient
        'wrapped_keys' {record_id: JWE}, each for a record on this custodian's list for the member, at its current
        version, wrapped for the new key (its kid). Records named that need nothing any more (erased since, the
        member's entry gone or wrapped for the new key already: GetRecoveryKeysToRewrap's `settled`) are named
        without a key and just leave the list; 'wrapped_keys' holds exactly the others (none, or left out, when
        every record named is settled)."""
        who = caller(ctx)
        doc = json_object(rewrap_json, "rewrap")
        refuse_in_arguments(doc, "wrapped_keys")
        shape = Shape(doc, "rewrap", *schema.fields(REWRAP))
        target = shape.string("member_id", member_id)
        named = {r["record_id"]: r["version"] for r in shape.items("records", _rewrapped, MAX_BATCH, min_items=1)}
        require_role(who, "admin")
        recovery = _require_rewrapping(ctx, target)
        waiting = waiting_records(ctx, target, who.msp_id)
        for rid in sorted(named):
            if rid not in waiting:
                raise precondition(f"{rid}: no key of {target} awaits a re-wrap from {who.msp_id} (done already?)")
        settled: list[str] = []
        to_rewrap: list[tuple[str, dict[str, Any], dict[str, Any]]] = []  # (record id, record, member's entry)
        for rid in sorted(named):
            record, entry = get_json(ctx, RECORD, rid), get_private(ctx, WKEY, rid, target)
            if record is None or entry is None or needs_nothing(record, entry, recovery["new_kid"]):
                settled.append(rid)
            else:
                to_rewrap.append((rid, record, entry))
        what = "the record keys wrapped for the new key"
        given = transient_json(ctx, "wrapped_keys", what, required=bool(to_rewrap))
        given = {} if given is None else given  # none needed: every record named is settled
        if not isinstance(given, dict) or not set(given) <= set(named):
            raise invalid("the transient 'wrapped_keys' must be {record_id: JWE}, only for records named")
        extra = [rid for rid in settled if rid in given]
        if extra:
            raise precondition(
                f"{', '.join(extra)}: no re-wrap needed any more (erased, or the key of {target} gone or wrapped for "
                "the new key already): name them without a key in 'wrapped_keys' (GetRecoveryKeysToRewrap: settled)"
            )
        missing = [rid for rid, _, _ in to_rewrap if rid not in given]
        if missing:
            raise invalid(f"{', '.join(missing)}: still awaiting a re-wrap, so 'wrapped_keys' must hold a key for each")
        rewraps: list[dict[str, Any]] = []
        for rid, record, entry in to_rewrap:
            wrapped = jwe(given[rid], f"wrapped_keys[{rid}]")
            if jwe_kid(wrapped) != recovery["new_kid"]:
                raise precondition(
                    f"{rid}: the key must be wrapped for the new key of {target} ({recovery['new_kid']})"
                )
            if named[rid] != record["version"] or entry["version"] != record["version"]:
                raise precondition(f"{rid} is at version {record['version']} now: ask for the keys to re-wrap again")
            rewraps.append({**entry, "jwe": wrapped})
        for entry in rewraps:  # written only once every record named passed
            put_entry(ctx, entry)
        waiting = [r for r in waiting if r not in named]
        set_waiting(ctx, target, who.msp_id, waiting)
        share = recovery["custodians"].setdefault(who.msp_id, {"to_rewrap": 0, "rewrapped": 0})
        share["rewrapped"] += len(rewraps)
        if not any(waiting_records(ctx, target, c) for c in recovery["custodians"] if c != who.msp_id) and not waiting:
            recovery.update(status="completed", completed_at=now(ctx))
        put_json(ctx, recovery, RECOVERY, target)
        payload = {"member_id": target, "custodian": who.msp_id, "rewrapped": len(rewraps), "remaining": len(waiting)}
        event(ctx, Event.MEMBER_KEYS_REWRAPPED, {**payload, "status": recovery["status"], "by": who.member_id})
        return recovery


def _rewrapped(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid(f"{what} must be an object with record_id and version")
    shape = Shape(value, what, *schema.fields(_REWRAPPED))
    return {"record_id": shape.string("record_id", object_id), "version": shape.integer("version", 1, 2**31)}
