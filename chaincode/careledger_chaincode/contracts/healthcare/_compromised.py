"""Compromised keys: the one place that decides whether a record key may be wrapped for a member, or a wrapped
key released to one, once a key of theirs was lost or left with someone who must not read any more.

A member entry lists its compromised keys (`compromised_keys`: kid, since, by, reason; ReportKeyCompromised and
OpenKeyRecovery add them, key_recovery.py). A key on that list is never accepted again: not as the member's key
(members.store_member), not as the recipient of a wrapped key (every writer of key entries asks
`refuse_wrapping`), and nothing wrapped for it is released (`release_refusal`). While the member's current key
is itself compromised (reported, no new key registered yet), nothing at all is wrapped for or released to them:
whoever holds the lost wallet holds that key and, until the certificate is revoked, the member's identity.

A wrapped key names its recipient's key by `kid` (the RFC 7638 thumbprint) in its per-recipient JWE header
(careledger.crypto.wrap_key): that is how an entry wrapped for a compromised key is told from a re-wrapped one.
"""

from __future__ import annotations

from typing import Any

from ...runtime import Context
from ._refusals import precondition
from ._state import get_json, key, load

# The kind of the member entry (members.MEMBER): read here without importing members, which imports this.
_MEMBER = "member"
RECOVERY = "key-recovery"  # (member) -> its latest key recovery (key_recovery.py)

Member = dict[str, Any]
WrappedKey = dict[str, Any]


def compromised_kids(member: Member) -> set[str]:
    return {str(mark["kid"]) for mark in member.get("compromised_keys", [])}


def current_key_mark(member: Member) -> dict[str, Any] | None:
    """The compromise record of the member's current key, when that key is compromised (no new key yet)."""
    kid = member["public_key"].get("kid")
    return next((m for m in member.get("compromised_keys", []) if m["kid"] == kid), None)


def jwe_kid(wrapped: WrappedKey) -> str | None:
    """The recipient key a JWE names in its unprotected per-recipient header (general or flattened syntax)."""
    recipients = wrapped.get("recipients")
    header = recipients[0].get("header") if isinstance(recipients, list) and recipients else wrapped.get("header")
    kid = header.get("kid") if isinstance(header, dict) else None
    return kid if isinstance(kid, str) else None


def wrap_refusal(member: Member, wrapped: WrappedKey) -> str | None:
    """Why this wrapped key may not be stored for the member, in words; None when it may."""
    mark = current_key_mark(member)
    if mark is not None:
        return (
            f"the key of {member['id']} was reported compromised on {mark['since']}: nothing is wrapped for it; "
            "wait until the new key is registered (key recovery)"
        )
    kid = jwe_kid(wrapped)
    if kid is not None and kid in compromised_kids(member):
        return f"the key {kid} of {member['id']} is compromised: wrap for the member's current key (GetMember)"
    return None


def refuse_wrapping(ctx: Context, recipient: str, wrapped: list[WrappedKey], member: Member | None = None) -> None:
    """Refuse (FAILED_PRECONDITION) to store record keys wrapped for a compromised key of `recipient`."""
    found = member if member is not None else get_json(ctx, _MEMBER, recipient)
    if found is None:
        return  # an unregistered recipient is refused by the caller's own checks
    for one in wrapped or [{}]:  # with no key at all, a compromised current key still refuses (a new grant)
        reason = wrap_refusal(found, one)
        if reason:
            raise precondition(reason)


def compromised_members(ctx: Context, member_ids: list[str]) -> set[str]:
    """Those of `member_ids` whose current key is compromised: grantees and proxies that a new record or version
    is not keyed for (they hold no role; the patient's own key is waited for instead)."""
    wanted = sorted(set(member_ids))
    raw = ctx.stub.get_states([key(ctx, _MEMBER, m) for m in wanted])
    return {m for m, value in zip(wanted, raw, strict=True) if value and current_key_mark(load(value)) is not None}


def release_refusal(member: Member | None, entry: dict[str, Any] | None = None) -> str | None:
    """Why nothing (or not this entry) is released to the member, or None. After any compromise only entries
    wrapped for the member's current key are released: the others wait for the custodian's re-wrap."""
    if member is None:
        return None
    mark = current_key_mark(member)
    if mark is not None:
        return (
            f"the key of {member['id']} was reported compromised on {mark['since']}: no key is released to it "
            "(its organization's admin recovers the member's key)"
        )
    own = entry is not None and entry["recipient"] == member["id"]
    if own and member.get("compromised_keys") and jwe_kid(entry["jwe"]) != member["public_key"].get("kid"):  # type: ignore[index]
        return "this key is still wrapped for a compromised key: the record's custodian re-wraps it for the new key"
    return None


def refuse_key_change(ctx: Context, member: Member, certificate_sha256: str) -> None:
    """After a key recovery, a member's key changes only from the certificate the recovery named (or through a
    new recovery): the lost wallet's certificate carries the same member id until the CRL reaches every peer."""
    recovery = get_json(ctx, RECOVERY, member["id"])
    refuse_while_rewrapping(recovery)
    if recovery is not None and recovery["certificate_sha256"] != certificate_sha256:
        raise precondition(
            f"the key of {member['id']} was recovered on {recovery['opened_at']}: it changes only from the "
            "certificate enrolled for that recovery, or through a new recovery by its organization's admin"
        )


def refuse_while_rewrapping(recovery: dict[str, Any] | None) -> None:
    """A member's key stays the one it recovered until every custodian has re-wrapped for it: the custodians hand
    in keys for that key only, so a key changed meanwhile would leave the recovery waiting for ever."""
    if recovery is not None and recovery["status"] == "rewrapping":
        raise precondition(
            f"the custodians are still re-wrapping the records of {recovery['member_id']} for the key it recovered: "
            "change the key once the recovery is completed (GetKeyRecovery tells)"
        )
