"""The demo's web users: one of every role in every organization, each with a passphrase-protected wallet, and
which app each signs into. `make demo` enrolls them (careledger_models.demo) and, once the apps run, prints
the table (`python -m careledger_network.demo_users`).

The consortium's own users (network/consortium.yaml: h1-clinician-1, ...) keep unprotected wallets: scripts,
the seed and the tests open them without a passphrase. The web apps sign people in with their passphrase
only (`Session.open(require_passphrase=True)`), so the demo's web users are separate identities.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .consortium import Consortium, Org, load
from .paths import state_dir

PASSPHRASE = "demo-passphrase"  # noqa: S105  # a demo's, printed for people to sign in with
HOSPITAL_ROLES = ("clinician", "researcher", "patient", "admin")  # the people of a hospital (docs/product.md)
AUTHORITY_ROLES = ("auditor", "admin")  # the people of the health authority
# The app each role signs into ("cli": none of the web apps is for them; the CLI takes CARELEDGER_PASSPHRASE).
HOSPITAL_APPS = {"clinician": "hospital", "researcher": "research", "patient": "portal", "admin": "hospital"}
AUTHORITY_APPS = {"auditor": "auditor", "admin": "cli"}
APP_NAMES = {
    "hospital": "hospital app",
    "portal": "patient consent portal",
    "research": "researcher app",
    "auditor": "auditor app",
    "cli": "no web app: the careledger CLI",
}


@dataclass(frozen=True)
class DemoUser:
    org: Org
    user: str
    role: str
    app: str  # a key of APP_NAMES
    passphrase: str = PASSPHRASE

    @property
    def registers(self) -> bool:
        """Whether the demo registers this user's encryption key on the ledger. Not admins: an admin's
        registration sets the organization's key, and that key stays the one the organization's first admin
        holds (the hospital app and the record store open organization-wrapped keys with it)."""
        return self.role != "admin"


def roles_of(c: Consortium, org: Org) -> tuple[str, ...]:
    """The roles an organization's people have: hospitals (the orgs with a record store) and the authority."""
    if org.store_port:
        return HOSPITAL_ROLES
    return AUTHORITY_ROLES if org.msp_id == c.authority_msp else ()


def _prefix(org: Org) -> str:
    return org.admin.removesuffix("-admin") if org.admin.endswith("-admin") else org.key  # h1-admin -> h1


def demo_users(c: Consortium) -> list[DemoUser]:
    users = []
    for org in c.orgs:
        apps = HOSPITAL_APPS if org.store_port else AUTHORITY_APPS
        for role in roles_of(c, org):
            users.append(DemoUser(org, f"{_prefix(org)}-web-{role}", role, apps[role]))
    return users


def user(c: Consortium, org_key: str, role: str) -> DemoUser:
    """The demo user of that role in that organization."""
    return next(u for u in demo_users(c) if u.org.key == org_key and u.role == role)


@dataclass(frozen=True)
class WebApp:
    kind: str  # a key of APP_NAMES
    org: Org  # whose app (the hospital's, or the authority's that serves the others)
    url: str

    @property
    def name(self) -> str:
        return APP_NAMES[self.kind] + (f" of {self.org.name}" if self.kind == "hospital" else "")


def web_apps(c: Consortium) -> list[WebApp]:
    """Every web app of the network and its address (the ports come from the consortium, as the network
    serves them: specs.app_specs)."""
    found = [WebApp("hospital", o, f"https://{o.host}:{o.app_port}/") for o in c.orgs if o.store_port and o.app_port]
    authority = c.authority
    for kind, port in (
        ("portal", authority.app_port),
        ("research", authority.research_port),
        ("auditor", authority.audit_port),
    ):
        if port:
            found.append(WebApp(kind, authority, f"https://{authority.host}:{port}/"))
    return found


def signs_into(c: Consortium, who: DemoUser) -> WebApp | None:
    """The app `who` signs into: the hospital app of their own hospital, or the one app of that kind."""
    for app in web_apps(c):
        if app.kind == who.app and (app.kind != "hospital" or app.org == who.org):
            return app
    return None


Enroll = Callable[[Path, Org, str, str, bytes], None]  # careledger_network.crypto.enroll_user
Register = Callable[[Path, DemoUser], None]  # opens the user's session and registers its key


def enroll(c: Consortium, state: Path, enroll_user: Enroll, register: Register) -> list[DemoUser]:
    """Enroll every demo user with their passphrase (skipped for those already in the wallet) and register the
    keys of those who register. Refuses a wallet entry without a passphrase: the apps could not sign it in."""
    from .crypto import wallet

    users = demo_users(c)
    for who in users:
        enroll_user(state, who.org, who.user, who.role, who.passphrase.encode())
        if wallet(state, who.org).metadata(who.user).get("encrypted") != "yes":
            raise ValueError(
                f"{who.user} is in {who.org.name}'s wallet without a passphrase: remove it, or set one "
                f"(`careledger --org {who.org.key} --user {who.user} wallet set-passphrase`)"
            )
        if who.registers:
            register(state, who)
    return users


def table(c: Consortium) -> str:
    """Which URL is which app, and who signs into which with which passphrase."""
    apps = web_apps(c)
    width = max(len(a.name) for a in apps)
    lines = ["Web apps:"] + [f"  {a.name:<{width}}  {a.url}" for a in apps]
    lines += ["", "Demo users (every role of every organization; each wallet is protected by its passphrase):"]
    lines.append(f"  {'organization':<16} {'role':<11} {'user':<20} {'passphrase':<16} signs into")
    for who in demo_users(c):
        app = signs_into(c, who)
        where = f"{app.name}  {app.url}" if app else APP_NAMES[who.app]
        lines.append(f"  {who.org.name:<16} {who.role:<11} {who.user:<20} {who.passphrase:<16} {where}")
    lines.append("  (researchers may also sign into their hospital's app; the CLI reads CARELEDGER_PASSPHRASE)")
    return "\n".join(lines)


def main() -> int:
    from .crypto import wallet

    c = load()
    missing = [u.user for u in demo_users(c) if u.user not in wallet(state_dir(), u.org).labels()]
    print(table(c))
    if missing:
        print(f"\nnot enrolled yet (run `make demo`): {', '.join(missing)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
