"""The portal's proxy pages: "People who can act for me" (name a proxy with rights and a last day, revoke one
after confirming), and, for a proxy, acting for a patient: choose whom after sign-in, then that patient's
records, grants and access log, under a banner saying "You are acting for …".

The ledger decides everything a proxy may do (the proxy's own identity signs; the patient is named as
`on_behalf_of` and checked against the proxy relation): these pages only offer what the relation's rights
allow and say a refusal in words. Whom the proxy acts for is kept in the signed session cookie as the
relation's id (no patient id in URLs or cookies), and is looked up again on the ledger on every page.
"""

from __future__ import annotations

from typing import Any

from careledger.errors import ChaincodeRefusal, NotFoundError
from careledger.services import OpenedRecord
from careledger_protocol import Grant, Proxy, ProxyRight
from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from werkzeug.wrappers.response import Response as WerkzeugResponse

from ._common import current_session, login_required
from ._display import person_label
from ._forms import Form, latest_day, read_grant, read_proxy, today_utc

bp = Blueprint("proxy", __name__)
ACTING = "acting_for"  # the session cookie's key: the id of the proxy relation in use (px-…)
RIGHT_WORDS = {
    ProxyRight.VIEW: "See my records, who I have given access to, and my access log",
    ProxyRight.GRANT: "Give access to my records for me",
    ProxyRight.REVOKE: "Revoke access I have given",
}


# -- people who can act for me ---------------------------------------------------------------------------------
@bp.route("/proxies")
@login_required
def proxies() -> str:
    return _proxies_page(Form("proxy"))[0]


def _proxies_page(form: Form) -> tuple[str, int]:
    me = current_session()
    today = today_utc()
    page = render_template(
        "portal_proxies.html",
        proxies=me.proxies_of(),
        acting_for=me.patients_i_act_for(active_only=True),
        rights=RIGHT_WORDS,
        form=form,
        first_day=today.isoformat(),
        last_day=latest_day(today).isoformat(),
    )
    return page, 200 if form.ok else form.status


@bp.route("/proxies", methods=["POST"])
@login_required
def name_proxy() -> WerkzeugResponse | tuple[str, int]:
    form = Form("proxy", request.form.copy())
    choice = read_proxy(form, today_utc())
    if choice is None:
        return _proxies_page(form)
    try:
        named = current_session().name_proxy(choice.proxy, choice.rights, choice.valid_until)
    except ChaincodeRefusal as exc:  # in words, by its type, with the form as it was sent
        form.refused(exc)
        return _proxies_page(form)
    flash(f"{person_label(named['proxy_id'])} may now act for you until {choice.last_day.day} {choice.last_day:%B %Y}.")
    return redirect(url_for("proxy.proxies"))


def _my_proxy(relation_id: str) -> Proxy:
    found = next((p for p in current_session().proxies_of() if p["id"] == relation_id), None)
    if found is None:
        raise NotFoundError(f"no proxy {relation_id} of yours")
    return found


@bp.route("/proxies/<relation_id>/revoke", methods=["GET", "POST"])
@login_required
def revoke_proxy(relation_id: str) -> WerkzeugResponse | str:
    """GET asks for confirmation (a page, so it works without JavaScript); the POST from it revokes."""
    relation = _my_proxy(relation_id)
    if relation["status"] != "active":
        flash(f"{person_label(relation['proxy_id'])} no longer acts for you.")
        return redirect(url_for("proxy.proxies"))
    if request.method == "GET" or request.form.get("confirm") != "revoke":
        return render_template("portal_proxy_revoke.html", relation=relation, rights=RIGHT_WORDS)
    current_session().revoke_proxy(relation["proxy_id"])
    flash(f"{person_label(relation['proxy_id'])} can no longer act for you.")
    return redirect(url_for("proxy.proxies"))


# -- acting for someone ----------------------------------------------------------------------------------------
def _acting() -> Proxy | None:
    """The proxy relation the signed-in person acts under now (active on the ledger), or None."""
    relation_id = session.get(ACTING)
    if not relation_id:
        return None
    found = next((r for r in current_session().patients_i_act_for(active_only=True) if r["id"] == relation_id), None)
    if found is None:
        session.pop(ACTING, None)
    return found


def _render(template: str, relation: Proxy, status: int = 200, **context: Any) -> tuple[str, int]:
    return render_template(template, relation=relation, acting=relation["patient_id"], **context), status


@bp.route("/acting")
@login_required
def acting() -> str:
    """Whom I may act for: choose one (after sign-in), or stop."""
    relations = current_session().patients_i_act_for(active_only=True)
    current = session.get(ACTING)
    return render_template("portal_acting.html", relations=relations, current=current, rights=RIGHT_WORDS)


@bp.route("/acting", methods=["POST"])
@login_required
def choose() -> WerkzeugResponse:
    relation_id = request.form.get("relation", "")
    if relation_id == "":  # stop acting for anyone
        session.pop(ACTING, None)
        flash("You are acting for yourself again.")
        return redirect(url_for("main.home"))
    found = next((r for r in current_session().patients_i_act_for(active_only=True) if r["id"] == relation_id), None)
    if found is None:
        raise NotFoundError("you do not act for this person (any more)")
    session[ACTING] = relation_id
    return redirect(url_for("proxy.acting_records"))


def _require_acting() -> Proxy | WerkzeugResponse:
    relation = _acting()
    if relation is None:
        flash("Choose whom you are acting for first.")
        return redirect(url_for("proxy.acting"))
    return relation


@bp.route("/acting/records")
@login_required
def acting_records() -> WerkzeugResponse | tuple[str, int]:
    relation = _require_acting()
    if not isinstance(relation, dict):
        return relation
    records = current_session().records_of(relation["patient_id"]) if ProxyRight.VIEW in relation["rights"] else []
    return _render("portal_acting_records.html", relation, records=records, opened=None)


@bp.route("/acting/records/<record_id>/read", methods=["POST"])
@login_required
def acting_read(record_id: str) -> WerkzeugResponse | tuple[str, int]:
    """Open one of the patient's records as their proxy: the ledger records "by me for them"."""
    relation = _require_acting()
    if not isinstance(relation, dict):
        return relation
    me = current_session()
    records = me.records_of(relation["patient_id"])
    if not any(r["id"] == record_id for r in records):
        raise NotFoundError(f"no record {record_id} of the person you act for")
    [result] = me.open_records_for(relation["patient_id"], [record_id])
    opened = result if isinstance(result, OpenedRecord) else None
    refused = None if opened else getattr(result, "reason", "")
    return _render("portal_acting_records.html", relation, records=records, opened=opened, refused=refused)


@bp.route("/acting/grants")
@login_required
def acting_grants() -> WerkzeugResponse | tuple[str, int]:
    relation = _require_acting()
    if not isinstance(relation, dict):
        return relation
    return _acting_grants_page(relation, Form("proxy-grant"))


def _acting_grants_page(relation: Proxy, form: Form) -> tuple[str, int]:
    me = current_session()
    patient = relation["patient_id"]
    viewing = ProxyRight.VIEW in relation["rights"]
    records = me.records_of(patient) if viewing else []
    grantees = []
    if ProxyRight.GRANT in relation["rights"]:
        for org in current_app.config["GRANTEE_ORGS"]:
            for role in ("clinician", "researcher", "organization"):
                grantees += me.members_of(org, role)
    today = today_utc()
    return _render(
        "portal_acting_grants.html",
        relation,
        200 if form.ok else form.status,
        grants=me.grants_of(patient) if viewing else [],
        records=records,
        categories=sorted({r["category"] for r in records if r["status"] == "active"}),
        grantees=grantees,
        form=form,
        first_day=today.isoformat(),
        last_day=latest_day(today).isoformat(),
    )


@bp.route("/acting/grants", methods=["POST"])
@login_required
def acting_grant() -> WerkzeugResponse | tuple[str, int]:
    relation = _require_acting()
    if not isinstance(relation, dict):
        return relation
    form = Form("proxy-grant", request.form.copy())
    choice = read_grant(form, today_utc())
    if choice is None:
        return _acting_grants_page(relation, form)
    try:
        grant = current_session().grant(
            choice.grantee,
            choice.purposes,
            choice.valid_until,
            choice.record_ids,
            choice.categories,
            on_behalf_of=relation["patient_id"],
        )
    except ChaincodeRefusal as exc:
        form.refused(exc)
        return _acting_grants_page(relation, form)
    flash(f"Access granted to {person_label(grant['grantee'])} for {person_label(relation['patient_id'])}.")
    return redirect(url_for("proxy.acting_grants"))


def _grant_of(patient_id: str, grant_id: str) -> Grant:
    found = next((g for g in current_session().grants_of(patient_id) if g["id"] == grant_id), None)
    if found is None:
        raise NotFoundError(f"no grant {grant_id} of the person you act for")
    return found


@bp.route("/acting/grants/<grant_id>/revoke", methods=["GET", "POST"])
@login_required
def acting_revoke(grant_id: str) -> WerkzeugResponse | tuple[str, int]:
    """GET asks for confirmation; the POST from it revokes for the patient (the revoke right)."""
    relation = _require_acting()
    if not isinstance(relation, dict):
        return relation
    grant = _grant_of(relation["patient_id"], grant_id)
    if grant["status"] != "active":
        flash(f"The access of {person_label(grant['grantee'])} was already revoked.")
        return redirect(url_for("proxy.acting_grants"))
    if request.method == "GET" or request.form.get("confirm") != "revoke":
        return _render("portal_acting_revoke.html", relation, grant=grant)
    current_session().revoke(grant_id)
    flash(f"Access of {person_label(grant['grantee'])} revoked for {person_label(relation['patient_id'])}.")
    return redirect(url_for("proxy.acting_grants"))


@bp.route("/acting/log")
@login_required
def acting_log() -> WerkzeugResponse | tuple[str, int]:
    relation = _require_acting()
    if not isinstance(relation, dict):
        return relation
    events = current_session().access_log(relation["patient_id"]) if ProxyRight.VIEW in relation["rights"] else []
    return _render("portal_acting_log.html", relation, events=list(reversed(events)))
