"""join-org's refusals, before it changes anything (the join itself runs live: tests/network/test_join.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from careledger_network.consortium import DEFAULT_PATH, parse
from careledger_network.errors import NetworkError
from careledger_network.network import Network
from careledger_network.org_join import _ports_of, join_org

HOSPITAL3: dict[str, Any] = {"name": "Hospital3", "msp_id": "Hospital3MSP", "port_base": 7400, "peers": 1,
                             "record_store": True, "admin": "h3-admin"}  # fmt: skip


def _network(state: Path, initialized: bool = True, local: bool = False) -> Network:
    doc = yaml.safe_load(DEFAULT_PATH.read_text())
    doc["orgs"].append(HOSPITAL3)
    c = parse(doc)
    state.mkdir(exist_ok=True)
    if initialized:
        (state / "network.json").write_text(json.dumps({"initialized": True}))
    return Network(c, state, echo=lambda line: None, local_orgs=(c.org("hospital3"),) if local else None)


def test_only_an_application_organization_joins(tmp_path: Path) -> None:
    with pytest.raises(NetworkError, match="only an application organization"):
        join_org(_network(tmp_path), "ordererorg")


def test_a_join_needs_a_running_network_and_every_partys_keys(tmp_path: Path) -> None:
    with pytest.raises(NetworkError, match="no running network"):
        join_org(_network(tmp_path / "empty", initialized=False), "hospital3")
    with pytest.raises(NetworkError, match="every organization's keys"):
        join_org(_network(tmp_path / "bundle", local=True), "hospital3")


def test_starting_a_network_whose_definition_gained_an_organization_says_to_join_it(tmp_path: Path) -> None:
    network = _network(tmp_path)
    for org in (network.c.orderer_org, *network.c.orgs[:-1]):  # the founding organizations' crypto
        ca = tmp_path / "crypto" / org.key / "ca" / "ca-cert.pem"
        ca.parent.mkdir(parents=True)
        ca.write_text("founding CA")
    with pytest.raises(NetworkError, match=r"^hospital3: in the consortium definition, not in this network"):
        network.start()


def test_the_ports_checked_are_the_joining_organizations_only(tmp_path: Path) -> None:
    c = _network(tmp_path).c
    ports = _ports_of(c.org("hospital3"), c.all_ports())
    assert set(ports) == {7400, 7401, 7402, 7405, 7406, 7410, 7411, 7412}
    assert all("Hospital1" not in what for what in ports.values())
