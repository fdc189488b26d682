"""BFT ordering (channel.consensus: bft): the consortium's orderers spread across organizations, and the
channel configuration and orderer configs generated for them."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from careledger_network import bft, generate
from careledger_network.consortium import BFT, DEFAULT_PATH, Consortium, ConsortiumError, parse
from careledger_network.paths import fabric_paths


@pytest.fixture
def raft_doc() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(DEFAULT_PATH.read_text())
    return loaded


@pytest.fixture
def consortium(raft_doc: dict[str, Any]) -> Consortium:
    return parse(bft.spread_orderers(raft_doc))


def test_four_orderers_one_per_organization(consortium: Consortium) -> None:
    assert consortium.consensus == BFT
    owners = [o.msp_id for o in consortium.orderers]
    assert owners == ["OrdererMSP", "Hospital1MSP", "Hospital2MSP", "HealthAuthorityMSP"]
    assert len({o.name for o in consortium.orderers}) == 4
    assert [org.msp_id for org in consortium.ordering_orgs] == owners
    for org in consortium.ordering_orgs:
        assert len(consortium.orderers_of(org)) == 1
    hospital1 = consortium.org("hospital1")
    (orderer,) = consortium.orderers_of(hospital1)
    # The node slot after the org's peers, on the org's host.
    assert orderer.port == hospital1.port_base + 10 + 10 * len(hospital1.peers)
    assert orderer.host == hospital1.host
    ports = consortium.all_ports()
    assert len(ports) == len(set(ports))


def test_raft_stays_the_default(raft_doc: dict[str, Any]) -> None:
    c = parse(raft_doc)
    assert c.consensus == "raft"
    assert {o.msp_id for o in c.orderers} == {"OrdererMSP"}
    assert c.ordering_orgs == (c.orderer_org,)


def _five_with_two_at_the_orderer_org(doc: dict[str, Any]) -> None:
    spread = bft.spread_orderers(doc)
    doc.update(spread)
    doc["orderer_org"]["orderers"] = 2


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["channel"].update(consensus="pbft"), r"channel\.consensus: 'pbft' must be raft"),
        (lambda d: d["channel"].update(consensus="bft"), r"channel\.consensus: bft needs at least 4 orderers"),
        (lambda d: d["orgs"][0].update(orderers=1), r"orgs\[0\]\.orderers: .*only with channel\.consensus: bft"),
        (_five_with_two_at_the_orderer_org, r"orderer_org\.orderers: OrdererOrg runs 2 of the 5"),
        (lambda d: d.update(bft.spread_orderers(d)) or d["orgs"][1].update(orderers=9), r"orgs\[1\]\.orderers"),
    ],
)
def test_bad_ordering_says_which_field_and_the_fix(raft_doc: dict[str, Any], mutate: Any, message: str) -> None:
    bad = copy.deepcopy(raft_doc)
    mutate(bad)
    with pytest.raises(ConsortiumError, match=message):
        parse(bad)


def test_quorum_and_tolerated_faults() -> None:
    assert (bft.tolerated_faults(4), bft.quorum(4)) == (1, 3)
    assert (bft.tolerated_faults(7), bft.quorum(7)) == (2, 5)


def _orderer_section(c: Consortium, state: Path) -> dict[str, Any]:
    doc = yaml.safe_load(generate.write_configtx(c, state).read_text())
    section: dict[str, Any] = doc["Profiles"][generate.CHANNEL_PROFILE]["Orderer"]
    return section


def test_configtx_maps_every_consenter_to_its_organization(consortium: Consortium, tmp_path: Path) -> None:
    orderer = _orderer_section(consortium, tmp_path)
    assert orderer["OrdererType"] == "BFT"
    assert "EtcdRaft" not in orderer
    mapping = orderer["ConsenterMapping"]
    assert [m["ID"] for m in mapping] == [1, 2, 3, 4]
    for m, node in zip(mapping, consortium.orderers, strict=True):
        assert (m["Host"], m["Port"], m["MSPID"]) == (node.host, node.port, node.msp_id)
        node_dir = tmp_path / "crypto" / consortium.org(node.msp_id).key / "nodes" / node.name
        assert m["Identity"] == str(node_dir / "msp" / "signcerts" / "cert.pem")
        assert m["ClientTLSCert"] == m["ServerTLSCert"] == str(node_dir / "tls" / "server.crt")
    assert orderer["SmartBFT"]["RequestBatchMaxInterval"] == consortium.batch_timeout
    # configtxgen replaces it with the consenters' quorum, but refuses a profile without one.
    assert "BlockValidation" in orderer["Policies"]


def test_every_ordering_organization_is_in_the_orderer_group(consortium: Consortium, tmp_path: Path) -> None:
    groups = {g["ID"]: g for g in _orderer_section(consortium, tmp_path)["Organizations"]}
    assert list(groups) == ["OrdererMSP", "Hospital1MSP", "Hospital2MSP", "HealthAuthorityMSP"]
    for org in consortium.ordering_orgs:
        assert groups[org.msp_id]["OrdererEndpoints"] == [o.address for o in consortium.orderers_of(org)]
    # A hospital's members are not its orderers: only the orderers write in the Orderer group.
    assert groups["Hospital1MSP"]["Policies"]["Writers"]["Rule"] == "OR('Hospital1MSP.orderer')"
    assert "AnchorPeers" not in groups["Hospital1MSP"]


def test_raft_configtx_is_unchanged(raft_doc: dict[str, Any], tmp_path: Path) -> None:
    c = parse(raft_doc)
    orderer = _orderer_section(c, tmp_path)
    assert orderer["OrdererType"] == "etcdraft"
    assert "ConsenterMapping" not in orderer
    assert "SmartBFT" not in orderer
    assert len(orderer["EtcdRaft"]["Consenters"]) == 3
    assert [g["ID"] for g in orderer["Organizations"]] == ["OrdererMSP"]
    assert orderer["Organizations"][0]["OrdererEndpoints"] == [o.address for o in c.orderers]


def test_an_application_orgs_orderer_runs_as_its_org(consortium: Consortium, tmp_path: Path) -> None:
    fabric = fabric_paths()
    if not (fabric.config_dir / "orderer.yaml").is_file():
        pytest.skip("Fabric's sampleconfig is not installed (make fabric)")
    (orderer,) = consortium.orderers_of(consortium.org("hospital2"))
    config = yaml.safe_load(generate.write_orderer_config(fabric, tmp_path, consortium, orderer).read_text())
    node_dir = tmp_path / "crypto" / "hospital2" / "nodes" / orderer.name
    assert config["General"]["LocalMSPID"] == "Hospital2MSP"
    assert config["General"]["LocalMSPDir"] == str(node_dir / "msp")
    assert config["Consensus"]["WALDir"] == str(tmp_path / "data" / orderer.name / "smartbft" / "wal")
