"""Acting for a patient: the one place the contract decides whether the caller is the patient, or a proxy
the patient (or the patient's hospital) named, active, not expired, holding the right the function needs.

Every function that a proxy may call for a patient asks `acts_for` (refuses, saying why) or `may_act_for`
(answers); the patient a proxy acts for is named by the caller (an `on_behalf_of` argument, or the patient of
the grant or access concerned) and is only ever trusted once the proxy relation on the ledger says so.

State: ("proxy", patient, proxy) -> the relation (documents.Proxy); ("proxy-x", proxy, patient) -> an index
for the proxy's own listing. A relation is replaced only after it was revoked (its history keeps the old).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from careledger_protocol import PROXY_ROLE, ProxyRight

from ...runtime import Context
from ._caller import Caller
from ._refusals import denied
from ._state import get_json, load
from ._time import now

PROXY = "proxy"
PROXY_BY_PROXY = "proxy-x"

Proxy = dict[str, Any]


def get_proxy(ctx: Context, patient_id: str, proxy_id: str) -> Proxy | None:
    return get_json(ctx, PROXY, patient_id, proxy_id)


def proxy_terms(proxy: Proxy) -> dict[str, Any]:
    """The terms a proxy's key entries carry (beside grants' terms, see policy): no purpose, so no consent
    check ever takes them for a grant; the period, so a proxy whose time ended gets no key for a new version."""
    return {"purposes": [], "valid_from": proxy["valid_from"], "valid_until": proxy["valid_until"], "proxy": True}


def why_not_proxy(proxy: Proxy | None, proxy_id: str, patient_id: str, right: str, at: str) -> str | None:
    """Why `proxy_id` may not use `right` for `patient_id` at `at` (None: it may), in words."""
    if proxy is None:
        return f"{proxy_id} is not a proxy of {patient_id}"
    if proxy["status"] != "active":
        return f"the proxy rights of {proxy_id} for {patient_id} were revoked on {proxy['revoked_at']}"
    if at < proxy["valid_from"]:
        return f"the proxy rights of {proxy_id} for {patient_id} start on {proxy['valid_from']}"
    if at >= proxy["valid_until"]:
        return f"the proxy rights of {proxy_id} for {patient_id} ended on {proxy['valid_until']}"
    if right not in proxy["rights"]:
        return f"the proxy rights of {proxy_id} for {patient_id} do not include {right}"
    return None


def proxy_refusal(ctx: Context, proxy_id: str, patient_id: str, right: str) -> str | None:
    """Why the member `proxy_id` (not necessarily the caller: a store asks about a requester) may not act
    for the patient with `right` now, or None."""
    return why_not_proxy(get_proxy(ctx, patient_id, proxy_id), proxy_id, patient_id, right, now(ctx))


@dataclass(frozen=True)
class Acting:
    """Who acts for which patient: the patient themselves (proxy None) or a proxy under its relation."""

    who: Caller
    patient_id: str
    proxy: Proxy | None

    @property
    def by_proxy(self) -> bool:
        return self.proxy is not None


def is_the_patient(who: Caller, patient_id: str) -> bool:
    return who.role == "patient" and who.member_id == patient_id


def acts_for(ctx: Context, who: Caller, patient_id: str, right: str) -> Acting:
    """The caller acting for `patient_id` with `right`: as the patient, or as their proxy; else refused
    (NOT_AUTHORIZED) with the reason, which the runtime logs as every refusal."""
    if is_the_patient(who, patient_id):
        return Acting(who, patient_id, None)
    if who.role != PROXY_ROLE:
        raise denied(f"only {patient_id} or a proxy they named may do this (proxies are people, role {PROXY_ROLE})")
    proxy = get_proxy(ctx, patient_id, who.member_id)
    reason = why_not_proxy(proxy, who.member_id, patient_id, right, now(ctx))
    if reason:
        raise denied(reason)
    return Acting(who, patient_id, proxy)


def may_act_for(ctx: Context, who: Caller, patient_id: str, right: str) -> bool:
    """acts_for, answered instead of refused (for views that other callers may read too)."""
    if is_the_patient(who, patient_id):
        return True
    return who.role == PROXY_ROLE and proxy_refusal(ctx, who.member_id, patient_id, right) is None


def view_proxies(ctx: Context, patient_id: str, at: str) -> list[Proxy]:
    """The patient's proxies who hold the view right at `at`: a new record of the patient is keyed for them."""
    rows = ctx.stub.get_state_by_partial_composite_key(PROXY, [patient_id])
    proxies = [load(v) for _, v in rows]
    return [p for p in proxies if why_not_proxy(p, p["proxy_id"], patient_id, ProxyRight.VIEW, at) is None]
