"""Fixtures for the web apps: fresh passphrase-protected users and app factories on the live network."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from careledger.errors import NotAuthorized, NotFound
from careledger.ledger import BlockReader
from careledger.services import OpenedRecord, Session
from careledger_apps import create_hospital_app, create_portal_app
from careledger_network import crypto as netcrypto
from careledger_network.network import Network
from fabric_gateway import Gateway

from .resources import observation

PASSPHRASE = "correct horse battery staple"
OBSERVATION = observation("Hemoglobin", 13.1, "g/dL")


def eventually(condition: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    """Wait until `condition()` holds. A write committed through one organization's peer reaches the
    others' peers a moment later, so a read through another organization must wait for it."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: still not so after {timeout:.0f} s")
        time.sleep(0.1)


def known(read: Callable[[], object]) -> bool:
    """Does this peer have what `read()` asks for? Refusing to show it is an answer too; only "not found" says
    the block has not reached it yet."""
    try:
        read()
    except NotAuthorized:
        return True
    except NotFound:
        return False
    return True


def _status_seen(read: Callable[[], Any], status: str, what: str, timeout: float = 15.0) -> None:
    """Wait until what `read()` finds is in `status`; "not found" meanwhile means it has not arrived yet."""

    def seen() -> bool:
        try:
            return bool(read()["status"] == status)
        except NotFound:
            return False

    eventually(seen, what, timeout)


def model_status_seen(session: Session, model_id: str, version: str, status: str, timeout: float = 15.0) -> None:
    """Wait until `session`'s peer sees the model version in `status`: a registration, approval or suspension
    committed through another organization's peer reaches this one a moment later."""
    what = f"the session's peer sees {model_id}@{version} {status}"
    _status_seen(lambda: session.model(model_id, version), status, what, timeout)


def record_seen(session: Session, record_id: str) -> None:
    """Wait until `session`'s peer has a record created through another organization's peer (a read: nothing is
    written to the trail)."""
    eventually(lambda: known(lambda: session.record(record_id)), f"the session's peer has {record_id}")


def grant_seen(session: Session, grant_id: str, status: str = "active") -> None:
    """Wait until the grantee's peer sees the grant in `status`: a grant or revocation committed through the
    patient's organization's peer reaches another organization's a moment later."""
    what = f"the session's peer sees grant {grant_id} {status}"
    _status_seen(lambda: session.evaluate("GetGrant", grant_id), status, what)


def member_seen(session: Session, member_id: str) -> None:
    """Wait until `session`'s peer has a member registered through another organization's peer."""
    eventually(lambda: known(lambda: session.member(member_id)), f"the session's peer has {member_id}")


def inferences_seen(session: Session, names: list[str]) -> None:
    """Wait until `session`'s peer has these inferences (`<tx id>:<n>`), recorded through another
    organization's peer."""
    eventually(
        lambda: all(known(partial(session.trace_inference, name)) for name in names),
        f"the session's peer has the {len(names)} inferences",
    )


def block_seen(gateway: Gateway, channel: str, number: int) -> None:
    """Wait until `gateway`'s peer has committed block `number`, committed first on another organization's peer."""
    reader = BlockReader(gateway, channel)
    eventually(lambda: reader.height()[0] > number, f"the peer has block {number}")


def eventually_opened(session: Session, record_id: str, timeout: float = 30.0) -> OpenedRecord:
    """The record opened by `session` once its grant, committed through another organization's peer, has
    reached this session's peer."""
    deadline = time.monotonic() + timeout
    while True:
        item = session.open_records([record_id])[0]
        if isinstance(item, OpenedRecord) or time.monotonic() > deadline:
            assert isinstance(item, OpenedRecord), item
            return item
        time.sleep(0.3)


@dataclass
class WebUsers:
    clinician: str
    patient: str
    other_patient: str
    record_id: str


@pytest.fixture(scope="session")
def web_users(network: Network) -> WebUsers:
    """A clinician and two patients of Hospital1 with passphrases, and one record of the first patient."""
    run = uuid.uuid4().hex[:6]
    org = network.c.org("hospital1")
    users = WebUsers(f"h1-webc-{run}", f"h1-webp-{run}", f"h1-webq-{run}", "")
    with Session.open(network.state / "profiles" / "hospital1.json", "h1-admin") as admin:
        admin.register()  # the organization key: records need it, and the hospital app opens org-wrapped keys
    for user, role in ((users.clinician, "clinician"), (users.patient, "patient"), (users.other_patient, "patient")):
        netcrypto.enroll_user(network.state, org, user, role, PASSPHRASE.encode())
        with Session.open(network.state / "profiles" / "hospital1.json", user, PASSPHRASE.encode()) as s:
            s.register()
    with Session.open(network.state / "profiles" / "hospital1.json", users.clinician, PASSPHRASE.encode()) as s:
        users.record_id = s.create_record(users.patient, OBSERVATION, category="laboratory")["id"]
    return users


@pytest.fixture
def hospital_app(network: Network, tmp_path: Path) -> Any:
    return create_hospital_app(
        {
            "PROFILE": str(network.state / "profiles" / "hospital1.json"),
            "ORG_KEY_FROM": "h1-admin",
            "MODEL_DIR": str(tmp_path),
            "TESTING": True,
        }
    )


@pytest.fixture
def portal_app(network: Network) -> Any:
    profiles = {o.key: str(network.state / "profiles" / f"{o.key}.json") for o in network.c.orgs if o.store_port}
    return create_portal_app(
        {"PROFILES": profiles, "GRANTEE_ORGS": ["Hospital1MSP", "Hospital2MSP"], "TESTING": True, "STREAM_SECONDS": 2}
    )


def csrf_token(page: str) -> str:
    """The CSRF token a page's form carries."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "no CSRF token on the page"
    return match.group(1)


class Browser:
    """A Flask test client over https (the session cookie is Secure) that keeps the CSRF token."""

    def __init__(self, app: Any) -> None:
        self.client = app.test_client()

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(path, base_url="https://localhost", **kw)

    def post(self, path: str, data: dict[str, Any] | None = None, csrf: bool = True, **kw: Any) -> Any:
        form = dict(data or {})
        if csrf:
            form["csrf_token"] = self.csrf()
        return self.client.post(path, data=form, base_url="https://localhost", **kw)

    def csrf(self) -> str:
        return csrf_token(self.get("/login").get_data(as_text=True))

    def login(self, user: str, passphrase: str = PASSPHRASE, org: str = "hospital1") -> Any:
        return self.post("/login", {"org": org, "user": user, "passphrase": passphrase})


@pytest.fixture(scope="module")
def sessions(network: Network) -> Iterator[dict[str, Session]]:
    """The model flows' people: Hospital1's researcher and clinician (with the organization key, as the hospital
    app runs models) and the health authority's auditor."""
    profiles = network.state / "profiles"
    with Session.open(profiles / "hospital1.json", "h1-admin") as admin:
        admin.register()  # the organization key the clinician opens org-wrapped records with (a no-op if there)
    opened = {
        "researcher": Session.open(profiles / "hospital1.json", "h1-researcher-1"),
        "auditor": Session.open(profiles / "healthauthority.json", "ha-auditor-1"),
        "clinician": Session.open(profiles / "hospital1.json", "h1-clinician-1", org_key_from="h1-admin"),
    }
    for member in opened.values():
        member.register()  # on a fresh network these tests may be the first to act (registering again is a no-op)
    yield opened
    for s in opened.values():
        s.close()
