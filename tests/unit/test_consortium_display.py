"""How the apps name organizations and show times: each organization's display name and time zone come from the
consortium definition (optional; the name and UTC otherwise), and a time zone that does not exist is refused."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml
from careledger_network.consortium import DEFAULT_PATH, ConsortiumError, parse


@pytest.fixture
def doc() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(DEFAULT_PATH.read_text())
    return loaded


def test_display_names_and_time_zones_come_from_the_definition(doc: dict[str, Any]) -> None:
    c = parse(doc)
    first = c.org("hospital1")
    assert first.display_name == doc["orgs"][0]["display_name"]
    assert first.display_name != first.name
    assert first.time_zone == doc["orgs"][0]["time_zone"]


def test_without_them_the_name_and_utc(doc: dict[str, Any]) -> None:
    bare = copy.deepcopy(doc)
    for org in bare["orgs"]:
        org.pop("display_name", None)
        org.pop("time_zone", None)
    c = parse(bare)
    assert [o.display_name for o in c.orgs] == [o.name for o in c.orgs]
    assert {o.time_zone for o in c.orgs} == {"UTC"}


def test_a_time_zone_that_does_not_exist_is_refused(doc: dict[str, Any]) -> None:
    bad = copy.deepcopy(doc)
    bad["orgs"][1]["time_zone"] = "Mars/Olympus_Mons"
    with pytest.raises(ConsortiumError, match=r"orgs\[1\]\.time_zone: 'Mars/Olympus_Mons' is not an IANA time zone"):
        parse(bad)
