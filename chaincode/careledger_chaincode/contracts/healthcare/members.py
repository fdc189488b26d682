"""Members: people and organizations with their public encryption keys (JWK).

A member is registered under its ledger id (`<member_id>@<MSP>`, see _caller), so only an identity of
the organization that owns an id can register it. A member's key changes only through that member's
own identity or, when a person has lost their key, through their organization's admin (the key recovery of
key_recovery.py); every change is an event, and the member entry says who made the last change. A key once
reported compromised (`compromised_keys`, _compromised) is never registered again, and while the current key
is compromised only the recovery replaces it.
"""

from __future__ import annotations

from typing import Any

from careledger_protocol import (
    CONFLICT,
    FAILED_PRECONDITION,
    INVALID_ARGUMENT,
    NOT_AUTHORIZED,
    NOT_FOUND,
    Event,
    ProxyRight,
    documents,
    jwk_thumbprint,
)

from ...runtime import ChaincodeError, Context, transaction
from . import _schemas as schema
from ._arguments import enum, json_object
from ._caller import (
    ORG_MEMBER_PREFIX,
    ROLES,
    Caller,
    caller,
    certificate_sha256,
    member_id,
    member_org,
    msp_id,
    recipient_id,
    require_role,
)
from ._compromised import RECOVERY, compromised_kids, current_key_mark, refuse_key_change, refuse_while_rewrapping
from ._paging import index_page
from ._proxy import may_act_for
from ._refusals import denied, invalid, not_found, precondition
from ._state import event, get_json, key, key_history, put_json
from ._time import now

MEMBER = "member"
MEMBER_BY_ORG = "member-org"
_KEY_CURVES = ("P-256", "P-384", "P-521")
_LISTED_ROLES = (*ROLES, "organization")
_COORDINATE = {"type": "string", "minLength": 1}
PUBLIC_KEY = {
    **schema.object_of(
        {"kty": schema.one_of(("EC",)), "crv": schema.one_of(_KEY_CURVES), "x": _COORDINATE, "y": _COORDINATE},
        {"kid": {"type": "string"}, "use": {"type": "string"}, "alg": {"type": "string"}},
    ),
    "title": "public-jwk",
    "description": "an EC public key as a JWK, at most 2 KiB (a private 'd' is refused); kid, if given, must be its "
    "RFC 7638 thumbprint, which is set when it is left out",
}


def public_jwk(text: str) -> dict[str, Any]:
    """An EC public key as a JWK (what ECDH-ES+A256KW needs); private parts are refused."""
    jwk = json_object(text, "public_key", max_bytes=2048)
    if jwk.get("kty") != "EC" or jwk.get("crv") not in _KEY_CURVES:
        raise invalid("public_key must be an EC JWK on P-256, P-384 or P-521 (kty EC, crv, x, y)")
    if "d" in jwk:
        raise invalid("public_key contains a private key ('d'): send only the public part, and keep 'd' secret")
    if not all(isinstance(jwk.get(k), str) and jwk[k] for k in ("x", "y")):
        raise invalid("public_key must have the coordinates x and y")
    allowed = set(PUBLIC_KEY["properties"])
    unknown = sorted(set(jwk) - allowed)
    if unknown:
        raise invalid(f"public_key has unexpected member(s) {', '.join(unknown)}")
    thumbprint = jwk_thumbprint(jwk)
    if jwk.setdefault("kid", thumbprint) != thumbprint:
        raise invalid(f"public_key.kid must be the key's RFC 7638 thumbprint ({thumbprint}), or left out")
    return jwk


def member_key(ctx: Context, mid: str) -> str:
    return key(ctx, MEMBER, mid)


def get_member(ctx: Context, mid: str) -> dict[str, Any] | None:
    return get_json(ctx, MEMBER, mid)


def require_member(ctx: Context, mid: str, what: str = "member") -> dict[str, Any]:
    found = get_member(ctx, mid)
    if found is None:
        raise not_found(f"{what} {mid} is not registered")
    return found


def is_self(who: Caller, member: dict[str, Any]) -> bool:
    """The caller is this member (the ledger id names the organization, so the id alone decides)."""
    return bool(member["id"] == who.member_id and member["org"] == who.msp_id)


def require_registered_caller(ctx: Context, who: Caller) -> dict[str, Any]:
    found = get_member(ctx, who.member_id)
    if found is None:
        raise denied(f"{who.member_id} has not registered an encryption key yet: call RegisterMember first")
    return found


def registered_caller(ctx: Context, *roles: str) -> Caller:
    """The caller, when it has one of roles and has registered its encryption key."""
    who = caller(ctx)
    require_role(who, *roles)
    require_registered_caller(ctx, who)
    return who


def refuse_while_compromised(member: dict[str, Any]) -> None:
    """A member whose current key is compromised gets a new one only through its recovery: whoever holds the lost
    wallet holds the member's identity too until its certificate is revoked, and must not choose the key."""
    mark = current_key_mark(member)
    if mark is not None:
        raise precondition(
            f"the key of {member['id']} was reported compromised on {mark['since']}: only the key recovery its "
            "organization's admin opens (OpenKeyRecovery, then RegisterRecoveredKey) replaces it"
        )


def store_member(
    ctx: Context, existing: dict[str, Any], jwk: dict[str, Any], by: Caller, event_name: Event
) -> dict[str, Any]:
    """Write a member (id, org, role from `existing`) with the key `jwk`, keeping its compromised keys, and the
    event `event_name`. A compromised key is refused (FAILED_PRECONDITION)."""
    mid, org, role = existing["id"], existing["org"], existing["role"]
    if jwk["kid"] in compromised_kids(existing):
        raise precondition(f"the key {jwk['kid']} of {mid} was reported compromised: register a new key")
    member = {
        "id": mid,
        "org": org,
        "role": role,
        "public_key": jwk,
        "updated_at": now(ctx),
        "updated_by": by.member_id,
    }
    if existing.get("compromised_keys"):
        member["compromised_keys"] = existing["compromised_keys"]
    put_json(ctx, member, MEMBER, mid)
    ctx.stub.put_state(ctx.stub.create_composite_key(MEMBER_BY_ORG, [org, role, mid]), b"\x00")
    event(ctx, event_name, {"member_id": mid, "org": org, "role": role, "by": by.member_id})
    return member


def patient_or_auditor(ctx: Context, patient_id: str, listing: str) -> Caller:
    """The caller, when it is the (registered) patient, their proxy with the view right, or an auditor of the
    health authority."""
    who = caller(ctx)
    patient = get_member(ctx, member_id(patient_id, "patient_id"))
    if who.is_authority_auditor or (patient is not None and is_self(who, patient)):
        return who
    if patient is not None and may_act_for(ctx, who, patient_id, ProxyRight.VIEW):
        return who
    raise denied(f"only the patient, their proxies with the view right and auditors may list a patient's {listing}")


class MembersMixin:
    @transaction(
        "RegisterMember",
        arguments={"public_key": PUBLIC_KEY},
        returns=documents.Member,
        events=(Event.MEMBER_REGISTERED,),
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, CONFLICT, FAILED_PRECONDITION),
    )
    def register_member(self, ctx: Context, public_key: str) -> dict[str, Any]:
        """Register the caller (from its certificate) with its public encryption key."""
        who = caller(ctx)
        require_role(who, "patient", "clinician", "researcher", "auditor")
        jwk = public_jwk(public_key)
        if get_member(ctx, who.member_id) is not None:
            raise ChaincodeError(
                CONFLICT, f"{who.member_id} is already registered; use UpdateMemberKey to change the key"
            )
        new = {"id": who.member_id, "org": who.msp_id, "role": who.role}
        return store_member(ctx, new, jwk, who, Event.MEMBER_REGISTERED)

    @transaction(
        "UpdateMemberKey",
        arguments={"public_key": PUBLIC_KEY},
        returns=documents.Member,
        events=(Event.MEMBER_KEY_UPDATED,),
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, NOT_FOUND, FAILED_PRECONDITION),
    )
    def update_member_key(self, ctx: Context, public_key: str) -> dict[str, Any]:
        """Replace the caller's own encryption key. Records wrapped for the old key need the old key (or a
        re-wrap by the patient or custodian) until their next version."""
        who = caller(ctx)
        existing = get_member(ctx, who.member_id)
        if existing is None:
            raise not_found(f"{who.member_id} is not registered: call RegisterMember first")
        refuse_while_compromised(existing)
        refuse_key_change(ctx, existing, certificate_sha256(ctx))
        return store_member(ctx, existing, public_jwk(public_key), who, Event.MEMBER_KEY_UPDATED)

    @transaction(
        "ResetMemberKey",
        arguments={"mid": schema.MEMBER, "public_key": PUBLIC_KEY},
        returns=documents.Member,
        events=(Event.MEMBER_KEY_RESET,),
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, NOT_FOUND, FAILED_PRECONDITION),
    )
    def reset_member_key(self, ctx: Context, mid: str, public_key: str) -> dict[str, Any]:
        """An organization's admin replaces the key of one of its own members (a person who lost theirs)."""
        who = caller(ctx)
        require_role(who, "admin")
        target = member_id(mid, "member_id")
        if member_org(target) != who.msp_id:
            raise denied(f"only an admin of {member_org(target)} may reset the key of {target}")
        existing = require_member(ctx, target)
        refuse_while_compromised(existing)
        refuse_while_rewrapping(get_json(ctx, RECOVERY, target))
        return store_member(ctx, existing, public_jwk(public_key), who, Event.MEMBER_KEY_RESET)

    @transaction(
        "RegisterOrganizationKey",
        arguments={"public_key": PUBLIC_KEY},
        returns=documents.Member,
        events=(Event.ORGANIZATION_KEY_REGISTERED,),
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, FAILED_PRECONDITION),
    )
    def register_organization_key(self, ctx: Context, public_key: str) -> dict[str, Any]:
        """An org admin registers (or replaces) the organization's key, used as custodian and org grantee."""
        who = caller(ctx)
        require_role(who, "admin")
        jwk = public_jwk(public_key)
        org_id = ORG_MEMBER_PREFIX + who.msp_id
        existing = get_member(ctx, org_id) or {"id": org_id, "org": who.msp_id, "role": "organization"}
        return store_member(ctx, existing, jwk, who, Event.ORGANIZATION_KEY_REGISTERED)

    @transaction("WhoAmI", read_only=True, returns=documents.Caller, refusals=(NOT_AUTHORIZED,))
    def who_am_i(self, ctx: Context) -> dict[str, Any]:
        """The caller as the ledger sees it: ledger id, organization, role, and whether it is registered."""
        who = caller(ctx)
        registered = ORG_MEMBER_PREFIX + who.msp_id if who.role == "admin" else who.member_id
        return {
            "member_id": who.member_id,
            "org": who.msp_id,
            "role": who.role,
            "registered": get_member(ctx, registered) is not None,
        }

    @transaction(
        "GetMember",
        read_only=True,
        arguments={"mid": schema.RECIPIENT},
        returns=documents.Member,
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, NOT_FOUND),
    )
    def get_member_tx(self, ctx: Context, mid: str) -> dict[str, Any]:
        """A registered member's public record (role, organization, public encryption key); any member may read it, to
        wrap keys for it."""
        caller(ctx)
        return require_member(ctx, recipient_id(mid, "member_id"))

    @transaction(
        "GetMemberHistory",
        read_only=True,
        arguments={"mid": schema.RECIPIENT},
        returns=list[documents.HistoryEntry],
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, FAILED_PRECONDITION),
    )
    def get_member_history(self, ctx: Context, mid: str) -> list[dict[str, Any]]:
        """Every key a member has had and who set it: the member, its organization's admins and auditors."""
        who = caller(ctx)
        target = recipient_id(mid, "member_id")
        own_org_admin = who.role == "admin" and member_org(target) == who.msp_id
        if not (target == who.member_id or own_org_admin or who.is_authority_auditor):
            raise denied("only the member, its organization's admins and auditors may read its key history")
        return key_history(ctx, MEMBER, target)

    @transaction(
        "ListMembers",
        read_only=True,
        arguments={"org": schema.MSP, "role": schema.one_of(("", *_LISTED_ROLES)), **schema.PAGE},
        returns=documents.Page[documents.Member],
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, FAILED_PRECONDITION),
    )
    def list_members(self, ctx: Context, org: str, role: str, page_size: str, bookmark: str) -> dict[str, Any]:
        """Members of an org, optionally of one role (role "" for all), paginated. Who is a patient of an
        organization is for that organization's staff and auditors only."""
        who = caller(ctx)
        parts = [msp_id(org, "org")]
        if role:
            parts.append(enum(_LISTED_ROLES)(role, "role"))
        own_staff = who.msp_id == org and who.is_staff
        if role in ("", "patient") and not (own_staff or who.is_authority_auditor):
            raise denied(f"only the staff of {org} and auditors may list its patients; list another role")
        members, next_mark = index_page(ctx, MEMBER_BY_ORG, parts, page_size, bookmark, MEMBER)
        return {"items": members, "bookmark": next_mark}
