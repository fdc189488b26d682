"""How pages name people, organizations and times: names people recognise, the ledger's ids kept on hover.

Registered once for both apps (`install`, from base_app):
- `{{ member_id|person }}`: the display name the viewer may see (careledger.directory decides who sees whom),
  with the id in its title; `person(member_id, details=True)` adds role and department; the signed-in member
  is "you"; an organization grantee (`org:<MSP>`) is its organization's name; anyone unknown stays an id.
- `{{ msp_id|org_name }}`: the organization's display name from the consortium definition (config ORG_NAMES),
  the MSP id in its title.
- `{{ time|local_time }}` (also `when`): `<time>` with the text in the app's TIME_ZONE, which the page's
  script turns into the browser's own time zone (_pages.when).

Who the viewer may see is worked out once a request (`people()`), by the app's PEOPLE factory: the hospital
app opens its hospital's directory with the organization key, the portal the patient's own sealed entry.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from careledger.directory import DirectoryError, People, Person
from careledger.errors import CareLedgerError, GatewayError
from careledger.record_content import date_of, title_of
from careledger_protocol import ORG_MEMBER_PREFIX
from flask import Flask, current_app, g
from markupsafe import Markup

from ._pages import when

PeopleFactory = Callable[[Any], People]  # the signed-in session -> who its member may see by name


def _no_names(_session: Any) -> People:
    return People({})


def people() -> People:
    """Who the signed-in member may see by name, worked out once per request (none when signed out)."""
    if "people" not in g:
        user = g.get("user")
        factory: PeopleFactory = current_app.extensions.get("careledger.people", _no_names)
        try:
            g.people = factory(user.session) if user is not None else People({})
        except DirectoryError as exc:  # a directory this app's key does not open: ids, and the operator told why
            current_app.logger.error("people directory unavailable: %s", exc)  # says the MSP and file, no names
            g.people = People({})
    found: People = g.people
    return found


def _self_id() -> str:
    user = g.get("user")
    if user is None:
        return ""
    try:
        return str(user.session.member_id())
    except (CareLedgerError, GatewayError):  # the page still names everyone else; "you" shows as the id
        return ""


def org_label(msp_id: str) -> str:
    """An organization's display name: the consortium's (ORG_NAMES), else its MSP id in words."""
    return org_label_in(current_app.config.get("ORG_NAMES", {}), msp_id)


def org_label_in(names: dict[str, str], msp_id: str) -> str:
    """org_label with the names given (for work that outlives the request, such as a live stream)."""
    if msp_id in names:
        return names[msp_id]
    bare = msp_id.removesuffix("MSP")
    return re.sub(r"(?<=[a-z])(?=[A-Z0-9])", " ", bare) or msp_id


def org_name(msp_id: str | None) -> Markup:
    if not msp_id:
        return Markup("")
    return Markup('<span class="org" title="{}">{}</span>').format(msp_id, org_label(msp_id))


def person_label(member_id: str, details: bool = False) -> str:
    """A member in words, as text (for flashed messages and attributes)."""
    if member_id.startswith(ORG_MEMBER_PREFIX):
        return f"everyone at {org_label(member_id.removeprefix(ORG_MEMBER_PREFIX))}"
    if member_id and member_id == _self_id():
        return "you"
    found = people().get(member_id)
    if found is None:
        return member_id
    return found.display_name + (f" ({describe(found)})" if details and describe(found) else "")


def describe(found: Person) -> str:
    """A person's role and department, or date of birth, in words."""
    if found.kind == "patient":
        return f"born {found.birth_date.day} {found.birth_date:%B %Y}" if found.birth_date else "patient"
    return ", ".join(part for part in (found.role, found.department) if part)


def person(member_id: str | None, details: bool = False) -> Markup:
    """A member as the page shows them: a name with the id on hover, or the id when no name may be shown."""
    if not member_id:
        return Markup("")
    label = person_label(member_id, details)
    if label == member_id:
        return Markup('<span class="id">{}</span>').format(member_id)
    return Markup('<span class="person" title="{}">{}</span>').format(member_id, label)


def install(app: Flask, factory: PeopleFactory | None = None) -> None:
    app.extensions["careledger.people"] = app.config.get("PEOPLE", factory or _no_names)
    app.add_template_filter(person)
    app.add_template_filter(org_name)
    app.add_template_filter(when, "local_time")
    app.jinja_env.globals["person_label"] = person_label
    app.jinja_env.globals["describe"] = describe
    app.jinja_env.globals["record_title"] = title_of  # read from the decrypted content, never the ledger
    app.jinja_env.globals["record_date"] = date_of


__all__ = ["describe", "install", "org_label", "org_name", "people", "person", "person_label"]
