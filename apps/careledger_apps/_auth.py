"""Sign-in and sign-out (shared by both apps)."""

from __future__ import annotations

from careledger.errors import IdentityError
from flask import Blueprint, current_app, make_response, redirect, render_template, request, session, url_for
from werkzeug.wrappers.response import Response

from ._common import account_key, safe_next
from ._devices import MAX_AGE
from ._messages import SIGN_IN_FAILED, SIGN_IN_MISSING
from ._throttle import TooManyAttempts

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int]:
    orgs = current_app.config["ORGS"]
    if request.method == "GET":
        return render_template("login.html", orgs=orgs, error=None)
    org = request.form.get("org") or orgs[0]
    user = request.form.get("user", "").strip()
    passphrase = request.form.get("passphrase", "")
    again = {"orgs": orgs, "org": org, "user_id": user[:256]}  # a refused sign-in keeps all but the passphrase
    if org not in orgs or not user or not passphrase or len(user) > 256 or len(passphrase) > 1024:
        return render_template("login.html", error=SIGN_IN_MISSING, **again), 400
    sessions = current_app.extensions["careledger.sessions"]
    devices = current_app.extensions["careledger.devices"]
    account = account_key(org, user)
    device = devices.verify(request.cookies.get(devices.cookie_name(account)), account)
    try:
        token = sessions.sign_in(org, user, passphrase, request.remote_addr or "?", device=device)
    except TooManyAttempts as exc:
        refused = make_response(render_template("login.html", error=f"Not tried: {exc}.", **again), 429)
        refused.headers["Retry-After"] = str(exc.retry_after)
        return refused
    except IdentityError:
        return render_template("login.html", error=SIGN_IN_FAILED, **again), 401
    role = sessions.get(token).role
    if role not in current_app.config["ROLES"]:
        sessions.sign_out(token)
        allowed = " or ".join(current_app.config["ROLES"])
        return render_template("login.html", error=f"This app is for {allowed} accounts.", **again), 403
    session.clear()  # a new session on sign-in: no fixation
    session["sid"] = token
    response = redirect(safe_next(request.args.get("next"), url_for("main.home")))
    # This browser now knows the passphrase of this account: from here on, guessing elsewhere does not
    # throttle it (only its own failures do). Renewed at each sign-in, same device id.
    name, value = devices.issue(account, device)
    response.set_cookie(name, value, max_age=MAX_AGE, secure=True, httponly=True, samesite="Strict")
    return response


@bp.route("/logout", methods=["POST"])
def logout() -> Response:
    current_app.extensions["careledger.sessions"].sign_out(session.get("sid"))
    session.clear()
    return redirect(url_for("auth.login"))
