"""Sign-in through the apps' Flask views, without a network: a fake ledger session stands in for
Session.open. Throttling, known-device cookies, Retry-After, and the session store's memory."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from careledger.errors import IdentityError
from careledger_apps import create_portal_app
from careledger_apps._common import SessionStore, account_key
from careledger_apps._throttle import ACCOUNT, Throttle

PASSPHRASE = "correct horse battery staple"
ATTACKERS = [f"203.0.113.{n}" for n in range(1, 31)]  # documentation addresses: labels only, nothing is sent
HOME, ELSEWHERE = "198.51.100.7", "198.51.100.99"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeSession:
    """What the sign-in path uses of careledger.services.Session."""

    user: str
    role: str
    closed: bool = False
    wallet: Any = None

    def __post_init__(self) -> None:
        role = self.role
        self.wallet = type("W", (), {"metadata": staticmethod(lambda _user: {"role": role})})()

    def close(self) -> None:
        self.closed = True

    def member_id(self) -> str:
        return self.user


@dataclass
class Accounts:
    """user -> (passphrase, role); records every opened session."""

    users: dict[str, tuple[str, str]] = field(
        default_factory=lambda: {
            "h1-patient-1": (PASSPHRASE, "patient"),
            "h1-patient-2": ("mallory's own", "patient"),
            "h1-clinician-1": (PASSPHRASE, "clinician"),
        }
    )
    opened: list[FakeSession] = field(default_factory=list)

    def open(self, org: str, user: str, passphrase: bytes) -> Any:
        if user not in self.users or self.users[user][0].encode() != passphrase:
            raise IdentityError("cannot open the private key: wrong passphrase?")
        session = FakeSession(user, self.users[user][1])
        self.opened.append(session)
        return session


def portal(tmp_path: Path, clock: Clock | None = None, accounts: Accounts | None = None) -> tuple[Any, Accounts]:
    """The real portal app, its sessions opened by `accounts`, its clock `clock`."""
    clock = clock or Clock()
    accounts = accounts or Accounts()
    app = create_portal_app(
        {
            "PROFILES": {"hospital1": str(tmp_path / "hospital1.json")},
            "GRANTEE_ORGS": [],
            "TESTING": True,
            "DEVICE_SECRET_FILE": str(tmp_path / "device-secret"),
        }
    )
    app.extensions["careledger.sessions"] = SessionStore(accounts.open, clock=clock, throttle=Throttle(clock=clock))
    return app, accounts


class FakeBrowser:
    """A Flask test client over https from one address, keeping its cookies (so its known-device cookie)."""

    def __init__(self, app: Any, address: str = HOME) -> None:
        self.client = app.test_client()
        self.address = address
        self.csrf = ""

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(path, base_url="https://localhost", environ_base={"REMOTE_ADDR": self.address}, **kw)

    def login(self, user: str, passphrase: str, org: str = "hospital1", query: str = "") -> Any:
        if not self.csrf:  # the session keeps its token until a sign-in succeeds
            match = re.search(r'name="csrf_token" value="([^"]+)"', self.get("/login").get_data(as_text=True))
            assert match
            self.csrf = match.group(1)
        form = {"csrf_token": self.csrf, "org": org, "user": user, "passphrase": passphrase}
        response = self.client.post(
            f"/login?{query}" if query else "/login",
            data=form,
            base_url="https://localhost",
            environ_base={"REMOTE_ADDR": self.address},
        )
        if response.status_code in (302, 403):
            self.csrf = ""
        return response

    def device_cookies(self) -> list[Any]:
        return [c for c in self.client._cookies.values() if "-device-" in c.key]


def test_a_successful_sign_in_sets_a_known_device_cookie(tmp_path: Path) -> None:
    app, _ = portal(tmp_path)
    browser = FakeBrowser(app)
    response = browser.login("h1-patient-1", PASSPHRASE)
    assert response.status_code == 302
    header = next(h for h in response.headers.getlist("Set-Cookie") if "-device-" in h)
    assert "HttpOnly" in header
    assert "Secure" in header
    assert "SameSite=Strict" in header
    assert "Max-Age=15552000" in header  # 180 days
    assert "h1-patient-1" not in header  # the cookie does not say who signed in on this computer
    assert (tmp_path / "device-secret").stat().st_mode & 0o777 == 0o600


def test_refusals_say_when_to_retry(tmp_path: Path) -> None:
    app, _ = portal(tmp_path)
    browser = FakeBrowser(app)
    for _ in range(ACCOUNT.free):
        assert browser.login("h1-patient-1", "wrong").status_code == 401
    refused = browser.login("h1-patient-1", PASSPHRASE)  # even the right passphrase is not tried now
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "10"
    text = refused.get_data(as_text=True)
    assert "too many failed sign-ins for this account; try again in 10 seconds" in text


def test_the_real_user_signs_in_from_her_browser_while_many_addresses_guess(tmp_path: Path) -> None:
    clock = Clock()
    app, accounts = portal(tmp_path, clock)
    own = FakeBrowser(app, HOME)
    assert own.login("h1-patient-1", PASSPHRASE).status_code == 302  # she used this browser before

    tried = refused = 0
    guessers = [FakeBrowser(app, address) for address in ATTACKERS]
    for minute in range(60):  # an hour of guessing from 30 addresses, each trying once a minute
        clock.now += 60
        for guesser in guessers:
            status = guesser.login("h1-patient-1", f"guess-{minute}-{guesser.address}").status_code
            tried += status == 401
            refused += status == 429
    # The free tries, then one per delay: 10 s, 20 s, ... 15 min (once a minute, so from 80 s on one per
    # delay): 1800 attempts in the hour, 14 of them tried.
    assert tried <= ACCOUNT.free + 10
    assert refused >= 1800 - tried

    own_again = FakeBrowser(app, HOME)
    own_again.client = own.client  # the same browser: it carries the known-device cookie
    assert own_again.login("h1-patient-1", PASSPHRASE).status_code == 302
    assert own.login("h1-patient-1", PASSPHRASE).status_code == 302
    new_browser = FakeBrowser(app, ELSEWHERE)  # a browser she never used is throttled like everyone else
    assert new_browser.login("h1-patient-1", PASSPHRASE).status_code == 429
    assert sum(s.user == "h1-patient-1" for s in accounts.opened) == 3


def test_a_cookie_for_another_account_or_a_forged_one_does_not_exempt(tmp_path: Path) -> None:
    app, _ = portal(tmp_path)
    mallory = FakeBrowser(app, ATTACKERS[0])
    assert mallory.login("h1-patient-2", "mallory's own").status_code == 302  # her own account: a genuine cookie
    cookie = mallory.device_cookies()[0]
    for _ in range(ACCOUNT.free):
        assert mallory.login("h1-patient-1", "guess").status_code == 401
    assert mallory.login("h1-patient-1", "guess").status_code == 429
    forged = FakeBrowser(app, ATTACKERS[1])
    name = app.extensions["careledger.devices"].cookie_name(account_key("hospital1", "h1-patient-1"))
    forged.client.set_cookie(name, cookie.value, domain="localhost")  # another account's value under this name
    assert forged.login("h1-patient-1", "guess").status_code == 429
    forged.client.set_cookie(name, cookie.value[:-2] + "AA", domain="localhost")
    assert forged.login("h1-patient-1", "guess").status_code == 429


def test_a_stolen_device_cookie_gives_only_a_few_guesses(tmp_path: Path) -> None:
    app, _ = portal(tmp_path)
    own = FakeBrowser(app)
    assert own.login("h1-patient-1", PASSPHRASE).status_code == 302
    for _ in range(5):
        assert own.login("h1-patient-1", "wrong").status_code == 401
    refused = own.login("h1-patient-1", "wrong")
    assert refused.status_code == 429
    assert "from this browser" in refused.get_data(as_text=True)


def test_wrong_role_and_unknown_user(tmp_path: Path) -> None:
    app, accounts = portal(tmp_path)
    refused = FakeBrowser(app).login("h1-clinician-1", PASSPHRASE)
    assert refused.status_code == 403
    assert accounts.opened[0].closed  # the session it opened is closed again
    assert FakeBrowser(app).login("nobody", PASSPHRASE).status_code == 401


def test_expired_sessions_are_closed_and_forgotten(tmp_path: Path) -> None:
    clock = Clock()
    accounts = Accounts()
    store = SessionStore(accounts.open, clock=clock, throttle=Throttle(clock=clock))
    first = store.sign_in("hospital1", "h1-patient-1", PASSPHRASE, HOME)
    assert store.get(first) is not None
    clock.now += 31 * 60
    store.sign_in("hospital1", "h1-clinician-1", PASSPHRASE, HOME)  # a sign-in sweeps expired sessions
    assert accounts.opened[0].closed
    assert len(store._items) == 1
    assert store.get(first) is None


def test_a_server_failure_during_sign_in_is_not_a_failed_guess(tmp_path: Path) -> None:
    clock = Clock()
    accounts = Accounts()
    store = SessionStore(accounts.open, clock=clock, throttle=Throttle(clock=clock))

    def down(org: str, user: str, passphrase: bytes) -> Any:
        raise RuntimeError("peer unavailable")

    store.open_session = down
    for _ in range(3 * ACCOUNT.free):
        with pytest.raises(RuntimeError):
            store.sign_in("hospital1", "h1-patient-1", PASSPHRASE, HOME)
    store.open_session = accounts.open
    assert store.get(store.sign_in("hospital1", "h1-patient-1", PASSPHRASE, HOME)) is not None
