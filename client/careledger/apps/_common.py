"""What both web apps share: sign-in with an enrolled identity, server-side sessions, CSRF, security
headers, login rate limiting and error pages that say in words why the ledger refused.

Sign-in opens the user's wallet key with the passphrase (the wallet key is PKCS#8-encrypted, so no
password is stored anywhere); the opened identity stays in this process's memory under a random
session id, and the cookie carries only that id (Secure, HttpOnly, SameSite=Strict).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

from flask import Flask, abort, g, redirect, render_template, request, session, url_for
from werkzeug.wrappers.response import Response

from ..errors import CareLedgerError, EndorseError, IdentityError, NotFoundError
from ..gateway import chaincode_error_code
from ..services import Session
from ..store import StoreError

F = TypeVar("F", bound=Callable[..., Any])
SESSION_SECONDS = 30 * 60
MAX_FAILURES, FAILURE_WINDOW = 5, 300.0

REFUSAL_WORDS = {
    "NOT_AUTHORIZED": "The ledger refused: you are not allowed to do this.",
    "NOT_FOUND": "The ledger has no such item.",
    "INVALID_ARGUMENT": "The ledger refused the request as malformed.",
    "CONFLICT": "That already exists on the ledger.",
    "FAILED_PRECONDITION": "The ledger refused: something must happen first.",
}


@dataclass
class _Signed:
    session: Session
    role: str
    expires: float


@dataclass
class SessionStore:
    """Signed-in users' opened identities, in memory, expiring after inactivity."""

    open_session: Callable[[str, str, bytes], Session]
    _items: dict[str, _Signed] = field(default_factory=dict)
    _failures: dict[str, list[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def sign_in(self, org: str, user: str, passphrase: str, remote: str) -> str:
        key = f"{remote}|{org}|{user}"
        now = time.monotonic()
        with self._lock:
            recent = [t for t in self._failures.get(key, []) if now - t < FAILURE_WINDOW]
            self._failures[key] = recent
            if len(recent) >= MAX_FAILURES:
                raise TooManyAttempts(f"too many failed sign-ins; wait {int(FAILURE_WINDOW / 60)} minutes")
        try:
            opened = self.open_session(org, user, passphrase.encode())
            role = opened.wallet.metadata(user).get("role", "")
        except (IdentityError, OSError, KeyError):
            with self._lock:
                self._failures.setdefault(key, []).append(now)
            raise IdentityError("unknown user or wrong passphrase") from None
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._failures.pop(key, None)
            self._items[token] = _Signed(opened, role, now + SESSION_SECONDS)
        return token

    def get(self, token: str | None) -> _Signed | None:
        if not token:
            return None
        with self._lock:
            item = self._items.get(token)
            if item is None or item.expires < time.monotonic():
                self._items.pop(token, None)
                return None
            item.expires = time.monotonic() + SESSION_SECONDS
            return item

    def sign_out(self, token: str | None) -> None:
        with self._lock:
            item = self._items.pop(token or "", None)
        if item:
            item.session.close()


class TooManyAttempts(CareLedgerError):
    pass


def base_app(name: str, template_folder: Path, test_config: dict[str, Any] | None) -> Flask:
    app = Flask(
        f"careledger.apps.{name}",
        template_folder=str(template_folder),
        static_folder=str(template_folder.parent / "static"),
    )
    app.config.from_mapping(
        APP_TITLE={"hospital": "CareLedger hospital", "portal": "CareLedger patient portal"}.get(name, "CareLedger"),
        SECRET_KEY=secrets.token_bytes(32),  # per process: sessions live in this process anyway
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_NAME=f"{name}-session",
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
    )
    if test_config:
        app.config.update(test_config)

    @app.before_request
    def protect() -> None:
        if "csrf" not in session:
            session["csrf"] = secrets.token_urlsafe(32)
        if request.method == "POST" and not secrets.compare_digest(
            request.form.get("csrf_token", ""), str(session.get("csrf", ""))
        ):
            abort(400, description="The form expired or did not come from this site (CSRF check). Reload and retry.")
        g.user = app.extensions["careledger.sessions"].get(session.get("sid"))

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
        )
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
        response.headers["Strict-Transport-Security"] = "max-age=31536000"
        return response

    @app.context_processor
    def inject() -> dict[str, Any]:
        return {"csrf_token": session.get("csrf", ""), "user": g.get("user")}

    @app.errorhandler(EndorseError)
    def ledger_refusal(exc: EndorseError) -> tuple[str, int]:
        code = getattr(exc, "chaincode_code", "") or chaincode_error_code(str(exc))
        detail = next((d.message for d in exc.details), str(exc)).split(": ", 1)[-1] if exc.details else str(exc)
        reason = detail.split(f"{code}: ", 1)[-1] if code else "The network could not process the request; retry."
        status = {"NOT_AUTHORIZED": 403, "NOT_FOUND": 404}.get(code, 400 if code else 503)
        return render_template("error.html", title=REFUSAL_WORDS.get(code, "The request failed"), reason=reason), status

    @app.errorhandler(NotFoundError)
    def not_found(exc: NotFoundError) -> tuple[str, int]:
        return render_template("error.html", title="Not found", reason=str(exc)), 404

    @app.errorhandler(StoreError)
    def store_refusal(exc: StoreError) -> tuple[str, int]:
        return render_template("error.html", title="The record store refused", reason=str(exc)), 502

    @app.errorhandler(400)
    def bad_request(exc: Any) -> tuple[str, int]:
        return render_template("error.html", title="Bad request", reason=getattr(exc, "description", "")), 400

    @app.errorhandler(404)
    def page_not_found(exc: Any) -> tuple[str, int]:
        return render_template("error.html", title="Not found", reason="There is no such page."), 404

    return app


def current_session() -> Session:
    """The signed-in user's ledger session (for views behind login_required)."""
    return g.user.session  # type: ignore[no-any-return]


def login_required(fn: F) -> F:
    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if g.get("user") is None:
            return redirect(url_for("auth.login"))
        return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def safe_next(target: str | None, default: str) -> str:
    """Only same-site relative paths: never an open redirect."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default
