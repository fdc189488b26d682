"""What every web app shares: sign-in with an enrolled identity, server-side sessions, CSRF, security
headers, login rate limiting and error pages that say in words why the ledger refused.

Sign-in opens the user's wallet key with the passphrase (the wallet key is sealed under it, so no
password is stored anywhere); the opened identity stays in this process's memory under a random
session id, and the cookie carries only that id (Secure, HttpOnly, SameSite=Strict). Because sessions
live in one process's memory, each app runs as one process (`serve.py`).
"""

from __future__ import annotations

import secrets
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

from careledger.errors import IdentityError
from careledger.services import Session
from careledger_protocol import Purpose
from flask import Flask, g, redirect, request, session, url_for
from werkzeug.wrappers.response import Response

from . import _display, _pages
from ._devices import KnownDevices, secret_for
from ._messages import FormExpired
from ._throttle import Throttle

F = TypeVar("F", bound=Callable[..., Any])
SESSION_SECONDS = 30 * 60
# Opening a wallet key runs scrypt (32 MiB each): at most this many at once, so a burst of sign-ins on
# the app's threads cannot take gigabytes.
KEY_OPENINGS = 4

# Each app's name, as its pages' titles and header say it.
APP_TITLES = {
    "hospital": "CareLedger hospital",
    "portal": "CareLedger patient portal",
    "research": "CareLedger research",
    "auditor": "CareLedger audit",
}

# How the pages name each purpose (forms send the purpose itself).
PURPOSE_LABELS = {
    Purpose.TREATMENT: "treatment",
    Purpose.DIAGNOSIS_AI: "diagnostic AI",
    Purpose.RESEARCH: "research (training models)",
}


@dataclass
class _Signed:
    session: Session
    role: str
    expires: float


@dataclass
class SessionStore:
    """Signed-in users' opened identities, in memory, expiring after inactivity; sign-ins go through the
    throttle (`_throttle.py`). `clock` is injectable for tests."""

    open_session: Callable[[str, str, bytes], Session]
    clock: Callable[[], float] = time.monotonic
    throttle: Throttle = field(default_factory=Throttle)
    _items: dict[str, _Signed] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _openings: threading.BoundedSemaphore = field(default_factory=lambda: threading.BoundedSemaphore(KEY_OPENINGS))

    def sign_in(self, org: str, user: str, passphrase: str, remote: str, device: str | None = None) -> str:
        """A session token, or TooManyAttempts (not tried) / IdentityError (tried, failed). `device` is the id
        from this account's verified known-device cookie, if the browser sent one."""
        ticket = self.throttle.begin(account_key(org, user), remote, device)  # charged as a failure until it succeeds
        try:
            with self._openings:
                opened = self.open_session(org, user, passphrase.encode())
        except (IdentityError, OSError, KeyError):  # one answer for unknown users and wrong passphrases
            raise IdentityError("unknown user or wrong passphrase") from None
        except BaseException:
            ticket.cancel()  # the ledger or the host failed, not the guess: no lock-out for an outage
            raise
        try:
            role = opened.wallet.metadata(user).get("role", "")
        except (IdentityError, OSError, KeyError):
            opened.close()
            raise IdentityError("unknown user or wrong passphrase") from None
        ticket.succeeded()
        token = secrets.token_urlsafe(32)
        with self._lock:
            expired = self._sweep()
            self._items[token] = _Signed(opened, role, self.clock() + SESSION_SECONDS)
        for item in expired:
            item.session.close()
        return token

    def _sweep(self) -> list[_Signed]:
        """Drop expired sessions (callers hold the lock; they close what this returns, outside it)."""
        now = self.clock()
        expired = [token for token, item in self._items.items() if item.expires < now]
        return [self._items.pop(token) for token in expired]

    def get(self, token: str | None) -> _Signed | None:
        if not token:
            return None
        with self._lock:
            item = self._items.get(token)
            if item is None or item.expires < self.clock():
                self._items.pop(token, None)
                return None
            item.expires = self.clock() + SESSION_SECONDS
            return item

    def sign_out(self, token: str | None) -> None:
        with self._lock:
            item = self._items.pop(token or "", None)
        if item:
            item.session.close()


def account_key(org: str, user: str) -> str:
    """The account a sign-in is for, as the throttle and the known-device cookies name it."""
    return f"{org}\x00{user}"


def base_app(name: str, template_folder: Path, test_config: dict[str, Any] | None) -> Flask:
    app = Flask(
        f"careledger_apps.{name}",
        template_folder=str(template_folder),
        static_folder=str(template_folder.parent / "static"),
    )
    app.config.from_mapping(
        APP_TITLE=APP_TITLES.get(name, "CareLedger"),
        APP_NAV=f"{name}_nav.html",  # the links every page shows, error pages too
        SECRET_KEY=secrets.token_bytes(32),  # per process: sessions live in this process anyway
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_NAME=f"{name}-session",
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
    )
    if test_config:
        app.config.update(test_config)
    app.extensions["careledger.devices"] = KnownDevices(secret_for(app.config), name)

    @app.before_request
    def protect() -> None:
        g.user = app.extensions["careledger.sessions"].get(session.get("sid"))  # first: error pages show the menu
        if "csrf" not in session:
            session["csrf"] = secrets.token_urlsafe(32)
        if request.method == "POST" and not secrets.compare_digest(
            request.form.get("csrf_token", ""), str(session.get("csrf", ""))
        ):
            raise FormExpired()

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

    app.jinja_env.globals["purposes"] = PURPOSE_LABELS

    @app.context_processor
    def inject() -> dict[str, Any]:
        return {"csrf_token": session.get("csrf", ""), "user": g.get("user")}

    _pages.install(app)  # times shown as <time>, and the error pages
    _display.install(app)  # names of people and organizations (each app says whose it may show)
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
    """Where to go after sign-in: `target` if it is a path on this site (and an optional query), else
    `default`. Never an open redirect.

    Browsers drop tabs and newlines anywhere in a URL and controls and spaces at its ends, and read `\\`
    as `/`: `/%09/evil.example` (a tab) arrives as `//evil.example`, another site; `///evil.example` too.
    So only printable ASCII without backslashes or `#` passes, and the path must start with `/` and hold
    no `//` (so no scheme and no host either). `target` was decoded once already (it came from the query
    string); it is checked decoded once more too, for whatever decodes it again on the way."""
    if not target or len(target) > 2048:
        return default
    for candidate in (target, urllib.parse.unquote(target)):
        if not all("!" <= ch <= "~" for ch in candidate) or "\\" in candidate or "#" in candidate:
            return default
        path = candidate.split("?", 1)[0]  # not urlsplit's path: it reads `///host` as host '' and path `/host`
        if not path.startswith("/") or "//" in path or urllib.parse.urlsplit(candidate).netloc:
            return default
    return target
