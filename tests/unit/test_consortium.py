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


def test_default_consortium_has_three_orgs_and_three_orderers(doc: dict[str, Any]) -> None:
    c = parse(doc)
    assert [o.msp_id for o in c.orgs] == ["Hospital1MSP", "Hospital2MSP", "HealthAuthorityMSP"]
    assert len(c.orderers) == 3
    assert c.channel == "careledger"
    assert c.endorsement_policy == "MAJORITY"


def test_every_port_is_distinct(doc: dict[str, Any]) -> None:
    c = parse(doc)
    ports = c.all_ports()
    # CAs, orderers, per org: cc server + peer; 2 stores and their 2 replica servers; 5 apps (2 hospital apps,
    # portal, researcher, auditor)
    expected = 2 * 4 + 3 * 3 + 3 * (1 + 3) + 2 + 2 + 5
    assert len(ports) == expected


def test_peers_per_org_is_a_setting(doc: dict[str, Any]) -> None:
    doc["orgs"][0]["peers"] = 2
    c = parse(doc)
    assert [p.name for p in c.orgs[0].peers] == ["peer0-hospital1", "peer1-hospital1"]
    assert c.orgs[0].peers[1].port == c.orgs[0].peers[0].port + 10
    assert len(set(c.all_ports())) == len(c.all_ports())


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["orgs"][0].update(port_base=7200), "overlaps"),
        (lambda d: d["orgs"][0]["users"].append({"id": "x-1", "role": "surgeon"}), "role"),
        (lambda d: d["orgs"][1].update(name="9bad"), "not a valid name"),
        (lambda d: d["orgs"][1].update(msp_id="Hospital1MSP"), "share the msp_id"),
        (lambda d: d["channel"].update(name="Bad Channel"), "channel.name"),
        (lambda d: d["channel"].update(batch_timeout="soon"), "batch_timeout"),
        (lambda d: d["chaincode"].update(endorsement_policy="SOME"), "endorsement_policy"),
        (lambda d: d["orgs"][0].update(peers=0), "peers"),
        (lambda d: d.pop("orderer_org"), "missing 'orderer_org'"),
        (lambda d: d["orgs"][1]["users"].append({"id": "h1-patient-1", "role": "patient"}), "unique"),
        (lambda d: d["orgs"][0].update(port_base=80), "port_base"),
    ],
)
def test_bad_definitions_say_what_is_wrong(doc: dict[str, Any], mutate: Any, message: str) -> None:
    bad = copy.deepcopy(doc)
    mutate(bad)
    with pytest.raises(ConsortiumError, match=message):
        parse(bad)


def test_org_lookup_names_the_known_orgs(doc: dict[str, Any]) -> None:
    c = parse(doc)
    assert c.org("HOSPITAL2").msp_id == "Hospital2MSP"
    assert c.org("HealthAuthorityMSP").name == "HealthAuthority"
    with pytest.raises(ConsortiumError, match="hospital1, hospital2, healthauthority"):
        c.org("hospital3")
