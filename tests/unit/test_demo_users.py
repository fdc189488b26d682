"""The demo's web users (careledger_network.demo_users): one of every role in every organization, each with a
passphrase-protected wallet, and which app each signs into; the network serves the researcher and auditor
apps on ports from the consortium definition."""

from __future__ import annotations

from pathlib import Path

import pytest
from careledger import SigningIdentity, Wallet
from careledger._signing import new_private_key
from careledger_network import demo_users
from careledger_network.consortium import Org, load
from careledger_network.specs import app_specs

from .local_tls import certificate_pem

# Who works where (docs/product.md, "The consortium"): written out here, not derived from demo_users.
EXPECTED = {
    "hospital1": {"clinician", "researcher", "patient", "admin"},
    "hospital2": {"clinician", "researcher", "patient", "admin"},
    "healthauthority": {"auditor", "admin"},
}


def test_every_role_of_every_organization_has_a_demo_user() -> None:
    c = load()
    users = demo_users.demo_users(c)
    found: dict[str, set[str]] = {}
    for who in users:
        found.setdefault(who.org.key, set()).add(who.role)
    assert found == EXPECTED
    assert len({u.user for u in users}) == len(users) == sum(map(len, EXPECTED.values()))
    assert all(u.passphrase for u in users)
    consortium_users = {u.id for o in c.orgs for u in o.users} | {o.admin for o in c.orgs}
    assert not consortium_users & {u.user for u in users}  # the scripts' unprotected identities stay as they are


def test_each_demo_user_signs_into_the_app_of_its_role() -> None:
    c = load()
    apps = {(a.kind, a.org.key): a.url for a in demo_users.web_apps(c)}
    authority = c.authority
    assert apps == {
        ("hospital", "hospital1"): f"https://{c.host}:{c.org('hospital1').app_port}/",
        ("hospital", "hospital2"): f"https://{c.host}:{c.org('hospital2').app_port}/",
        ("portal", "healthauthority"): f"https://{c.host}:{authority.app_port}/",
        ("research", "healthauthority"): f"https://{c.host}:{authority.research_port}/",
        ("auditor", "healthauthority"): f"https://{c.host}:{authority.audit_port}/",
    }
    where = {(u.org.key, u.role): demo_users.signs_into(c, u) for u in demo_users.demo_users(c)}
    assert where[("hospital2", "clinician")].url == apps[("hospital", "hospital2")]  # type: ignore[union-attr]
    assert where[("hospital1", "admin")].url == apps[("hospital", "hospital1")]  # type: ignore[union-attr]
    assert where[("hospital2", "researcher")].kind == "research"  # type: ignore[union-attr]
    assert where[("hospital2", "patient")].kind == "portal"  # type: ignore[union-attr]
    assert where[("healthauthority", "auditor")].kind == "auditor"  # type: ignore[union-attr]
    assert where[("healthauthority", "admin")] is None  # no web app is for the authority's admin: the CLI
    table = demo_users.table(c)
    for who in demo_users.demo_users(c):
        assert f"{who.user:<20} {who.passphrase}" in table
    for url in apps.values():
        assert url in table


def _enroll_into_wallets(passphrase_for: dict[str, bytes | None]) -> demo_users.Enroll:
    """What careledger_network.crypto.enroll_user does, without a CA: a new identity in the org's wallet,
    sealed under the passphrase it is given (skipped when the wallet has the user already, as the real one)."""

    def enroll(state: Path, org: Org, user: str, role: str, passphrase: bytes) -> None:
        wallet = Wallet(state / "wallets" / org.key)
        if user in wallet.labels():
            return
        passphrase_for[user] = passphrase
        key = new_private_key()
        identity = SigningIdentity(org.msp_id, certificate_pem(key), key)
        wallet.put(user, identity, certificate_pem(key), passphrase=passphrase, extra={"role": role})

    return enroll


def test_enrolling_gives_every_demo_user_a_passphrase_protected_wallet(tmp_path: Path) -> None:
    c = load()
    given: dict[str, bytes | None] = {}
    registered: list[str] = []
    users = demo_users.enroll(c, tmp_path, _enroll_into_wallets(given), lambda _state, who: registered.append(who.user))
    assert set(given) == {u.user for u in users}
    for who in users:
        wallet = Wallet(tmp_path / "wallets" / who.org.key)
        meta = wallet.metadata(who.user)
        assert meta["encrypted"] == "yes", who.user  # what the web apps' sign-in requires
        assert meta["role"] == who.role
        assert given[who.user] == who.passphrase.encode()
        assert wallet.get(who.user, who.passphrase.encode()).msp_id == who.org.msp_id  # the passphrase opens it
    # Admins are not registered: an admin's registration would replace the organization's key.
    assert sorted(registered) == sorted(u.user for u in users if u.role != "admin")


def test_an_unprotected_wallet_entry_of_a_demo_user_is_refused(tmp_path: Path) -> None:
    c = load()
    who = demo_users.user(c, "hospital2", "clinician")
    key = new_private_key()
    Wallet(tmp_path / "wallets" / "hospital2").put(
        who.user, SigningIdentity(who.org.msp_id, certificate_pem(key), key), certificate_pem(key)
    )  # as the demo wallets of Hospital2 were: no passphrase, so no web sign-in
    with pytest.raises(ValueError, match="without a passphrase"):
        demo_users.enroll(c, tmp_path, _enroll_into_wallets({}), lambda _state, _who: None)


def test_the_network_serves_the_researcher_and_auditor_apps_on_the_consortium_ports(tmp_path: Path) -> None:
    c = load()
    authority = c.authority
    ports = c.all_ports()
    assert ports[authority.research_port] == f"researcher app of {authority.name}"
    assert ports[authority.audit_port] == f"auditor app of {authority.name}"
    assert authority.research_port == authority.port_base + 7
    assert authority.audit_port == authority.port_base + 8
    assert all(o.research_port == o.audit_port == 0 for o in c.orgs if o is not authority)
    specs = {s.name: s for s in app_specs(c, tmp_path)}
    for name, kind, port in (
        ("research-app", "research", authority.research_port),
        ("auditor-app", "auditor", authority.audit_port),
    ):
        spec = specs[name]
        assert spec.command[2:5] == ["careledger_apps", kind, "--port"]
        assert spec.command[5] == str(port)
        assert spec.ports == [port]
        assert spec.health_url == f"https://{c.host}:{port}/login"
