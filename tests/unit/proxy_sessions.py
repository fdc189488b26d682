"""The portal's proxy pages offline: a scripted patient session that also names proxies and acts for another
patient (a parent acting for their child), for the page tests and `app_sessions.pages()`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from careledger.services import OpenedRecord

from .app_sessions import EVENT, GRANT, PATIENT, RECORD, Browser, Patient, portal

PARENT = "h2-parent-1@Hospital2MSP"
CHILD = "h1-patient-7@Hospital1MSP"
# Alice (the signed-in patient) named the parent; the parent acts for the child, named by the hospital.
MY_PROXY: dict[str, Any] = {
    "id": "px-1",
    "patient_id": PATIENT,
    "proxy_id": PARENT,
    "proxy_org": "Hospital2MSP",
    "rights": ["grant", "revoke", "view"],
    "valid_from": "2026-01-01T00:00:00Z",
    "valid_until": "2099-12-31T23:59:59Z",
    "status": "active",
    "created_at": "2026-01-01T00:00:00Z",
    "created_by": PATIENT,
    "keyed_records": ["rec-1"],
}
I_ACT_FOR: dict[str, Any] = {
    **MY_PROXY,
    "id": "px-2",
    "patient_id": CHILD,
    "proxy_id": PATIENT,
    "proxy_org": "Hospital1MSP",
    "created_by": "h1-admin@Hospital1MSP",
}
CHILD_RECORD: dict[str, Any] = {**RECORD, "id": "rec-7", "patient_id": CHILD}
CHILD_GRANT: dict[str, Any] = {**GRANT, "id": "g-7", "patient_id": CHILD, "granted_by": PATIENT}
MY_PROXY_EVENT: dict[str, Any] = {**EVENT, "tx_id": "tx-8", "requester": PARENT, "on_behalf_of": PATIENT}
CHILD_EVENT: dict[str, Any] = {
    **EVENT,
    "tx_id": "tx-7",
    "requester": PATIENT,
    "on_behalf_of": CHILD,
    "record_id": "rec-7",
}


@dataclass
class ProxySession(Patient):
    """A patient who named a proxy (MY_PROXY) and acts for a child (I_ACT_FOR) with `rights`."""

    rights: list[str] = field(default_factory=lambda: ["grant", "revoke", "view"])
    proxies: list[dict[str, Any]] = field(default_factory=lambda: [dict(MY_PROXY)])

    def proxies_of(self, patient: str | None = None) -> list[dict[str, Any]]:
        return self.proxies

    def patients_i_act_for(self, active_only: bool = False) -> list[dict[str, Any]]:
        return [{**I_ACT_FOR, "rights": self.rights}]

    def name_proxy(self, proxy: str, rights: list[str], valid_until: str, patient: str | None = None) -> dict[str, Any]:
        self._write("name_proxy", proxy, rights, valid_until)
        return {**MY_PROXY, "proxy_id": proxy, "rights": rights, "valid_until": valid_until}

    def revoke_proxy(self, proxy: str, patient: str | None = None) -> dict[str, Any]:
        self._write("revoke_proxy", proxy)
        return {**MY_PROXY, "status": "revoked"}

    def records_of(self, patient_id: str | None = None) -> list[dict[str, Any]]:
        return [CHILD_RECORD] if patient_id == CHILD else self.my_records()

    def grants_of(self, patient_id: str | None = None) -> list[dict[str, Any]]:  # type: ignore[override]
        return [CHILD_GRANT] if patient_id == CHILD else self.grants

    def access_log(self, patient_id: str | None = None) -> list[dict[str, Any]]:  # type: ignore[override]
        return [CHILD_EVENT] if patient_id == CHILD else [*super().access_log(), MY_PROXY_EVENT]

    def open_records_for(self, patient: str, record_ids: list[str]) -> list[Any]:
        self.calls.append(("open_for", patient, record_ids))
        resource = {"resourceType": "Observation", "status": "final", "code": {"text": "Hemoglobin"}}
        return [OpenedRecord(rid, patient, 1, resource, "ab" * 32, "cd" * 32) for rid in record_ids]

    def grant(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        self._write("grant", *args, kwargs)
        return {"grantee": args[0], "id": "g-8", "patient_id": kwargs.get("on_behalf_of", PATIENT)}


def proxy_portal(rights: list[str] | None = None) -> tuple[Browser, ProxySession]:
    session = ProxySession(rights=rights or ["grant", "revoke", "view"])
    browser, _ = portal(session)
    return browser, session


def acting(browser: Browser) -> None:
    """Choose to act for the child, as a proxy does after sign-in."""
    assert browser.send("/acting", {"relation": "px-2"}).status_code == 302


def proxy_pages() -> dict[str, tuple[int, str]]:
    """Every proxy page of the portal, by a name: (status, html); for app_sessions.pages()."""
    from careledger.errors import Conflict

    out: dict[str, tuple[int, str]] = {}

    def keep(name: str, response: Any) -> None:
        out[name] = (response.status_code, response.get_data(as_text=True))

    browser, session = proxy_portal()
    for path in ("/proxies", "/proxies/px-1/revoke", "/acting"):
        keep(f"portal {path}", browser.page(path))
    keep("portal proxy form problems", browser.send("/proxies", {"right": "grant", "until": "2000-01-01"}))
    session.refuse = Conflict("x", reason="already a proxy")
    form = {"proxy": PARENT, "right": "view", "until": "2099-01-01"}
    keep("portal proxy refused by the ledger", browser.send("/proxies", form))
    session.refuse = None
    acting(browser)
    for path in ("/acting", "/acting/records", "/acting/grants", "/acting/log", "/acting/grants/g-7/revoke"):
        keep(f"portal {path} (acting)", browser.page(path))
    keep("portal acting read record", browser.send("/acting/records/rec-7/read", {}))
    keep("portal acting grant problems", browser.send("/acting/grants", {"until": "bad"}))
    return out
