"""A hospital joins the running consortium (issue 20, item 3), in its own state folder and on its own ports
(every port_base shifted, so it runs beside the session's network): three organizations up, then Hospital3,
new in the consortium definition, joins by `join_org` while Hospital2's gateway keeps submitting. Then its
clinicians and patients take part with the others: a Hospital1 record written before the join is opened by a
Hospital3 clinician after consent (the ciphertext from Hospital1's store, which was not restarted), and a
Hospital3 record is opened by a Hospital1 clinician after consent and refused to one without. Prints the time
to join and what the submits during it saw (numbers, never asserted)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from careledger.connection import connect
from careledger.services import Refused, Session
from careledger_network.consortium import DEFAULT_PATH, parse
from careledger_network.errors import NetworkError
from careledger_network.network import Network
from careledger_network.org_join import join_org

from .conftest import eventually_opened, member_seen
from .resources import observation

pytestmark = [pytest.mark.network, pytest.mark.slow]
PORT_SHIFT = 2000
HOSPITAL3: dict[str, Any] = {
    "name": "Hospital3",
    "display_name": "Harbour Community Hospital",
    "time_zone": "Europe/Lisbon",
    "msp_id": "Hospital3MSP",
    "port_base": 7400 + PORT_SHIFT,
    "peers": 1,
    "record_store": True,
    "admin": "h3-admin",
    "users": [{"id": "h3-clinician-1", "role": "clinician"}, {"id": "h3-patient-1", "role": "patient"}],
}


@dataclass
class Consortium:
    network: Network  # the three organizations the channel was created with
    with_hospital3: dict[str, Any]  # the definition once Hospital3 is added to it


@pytest.fixture(scope="module")
def consortium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Consortium]:
    doc: dict[str, Any] = yaml.safe_load(DEFAULT_PATH.read_text())
    for section in (doc["orderer_org"], *doc["orgs"]):
        section["port_base"] += PORT_SHIFT
        if "record_store" in section:  # local disk: the replicas are another test's subject
            section["record_store"] = True
    lines: list[str] = []
    network = Network(parse(doc), tmp_path_factory.mktemp("join-state"), echo=lines.append)
    with_hospital3 = {**doc, "orgs": [*doc["orgs"], HOSPITAL3]}
    try:
        network.up()
        yield Consortium(network, with_hospital3)
    finally:
        Network(parse(with_hospital3), network.state, echo=lines.append).down()


@dataclass
class Load:
    """diag:Put through one organization's gateway, one after another, until stopped."""

    profile: Path
    committed: list[float] = field(default_factory=list)
    failed: list[tuple[float, str]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with connect(self.profile, "h2-admin") as gateway:
            contract = gateway.network("careledger").contract("careledger", "diag")
            while not self.stop.is_set():
                try:
                    contract.new_proposal("Put", [f"join-{uuid.uuid4().hex[:8]}", "v"]).endorse().submit()
                    self.committed.append(time.monotonic())
                except Exception as exc:  # every failure is counted and shown, none hidden
                    self.failed.append((time.monotonic(), type(exc).__name__ + ": " + str(exc)[:160]))
                time.sleep(0.05)


def test_hospital3_joins_the_running_consortium_and_takes_part(consortium: Consortium) -> None:
    three = consortium.network
    profiles = three.state / "profiles"
    for org, user in (("hospital1", "h1-admin"), ("hospital1", "h1-clinician-1"), ("hospital1", "h1-patient-1"),
                      ("hospital2", "h2-clinician-1")):  # fmt: skip
        with Session.open(profiles / f"{org}.json", user) as s:
            s.register()
    with Session.open(profiles / "hospital1.json", "h1-clinician-1") as clinician:
        before_join = clinician.create_record("h1-patient-1", observation("Hemoglobin", 13.4, "g/dL"), "laboratory")
    store_pid = three.table.load()["store-hospital1"].pid

    four = Network(parse(consortium.with_hospital3), three.state, echo=print)
    load = Load(profiles / "hospital2.json")
    loader = threading.Thread(target=load.run, daemon=True)
    loader.start()
    joined = join_org(four, "hospital3")
    time.sleep(3)
    load.stop.set()
    loader.join(timeout=60)
    after = [t for t in load.committed if t > time.monotonic() - 3]
    assert after, f"Hospital2's submits stopped committing after the join: {load.failed[-3:]}"
    print(
        f"\nHospital3 joined in {joined.seconds:.1f} s (config block {joined.config_block}, chaincode sequence "
        f"{joined.sequence}, update signed by {', '.join(joined.signed_by)}); Hospital2's submits meanwhile: "
        f"{len(load.committed)} committed, {len(load.failed)} failed"
        + "".join(f"\n  failed: {why}" for _, why in load.failed[:5])
    )
    assert len(joined.signed_by) == 3  # the submitter, one more of the three members (a majority), the orderer org

    with pytest.raises(NetworkError, match="already"):
        join_org(four, "hospital3")

    for user in ("h3-admin", "h3-clinician-1", "h3-patient-1"):
        with Session.open(profiles / "hospital3.json", user) as s:
            s.register()
    with (
        Session.open(profiles / "hospital1.json", "h1-patient-1") as h1_patient,
        Session.open(profiles / "hospital1.json", "h1-clinician-1") as h1_clinician,
        Session.open(profiles / "hospital2.json", "h2-clinician-1") as h2_clinician,
        Session.open(profiles / "hospital3.json", "h3-clinician-1") as h3_clinician,
        Session.open(profiles / "hospital3.json", "h3-patient-1") as h3_patient,
    ):
        # A record from before the join, opened by the newcomer's clinician once its patient consents.
        assert isinstance(h3_clinician.open_records([before_join["id"]])[0], Refused)
        until = "2099-01-01T00:00:00Z"
        member_seen(h1_patient, h3_clinician.member_id())  # registered through Hospital3's peer
        h1_patient.grant(h3_clinician.member_id(), ["treatment"], until, record_ids=[before_join["id"]])
        opened = eventually_opened(h3_clinician, before_join["id"])
        assert opened.resource["valueQuantity"]["value"] == 13.4
        assert three.table.load()["store-hospital1"].pid == store_pid  # trusted Hospital3 without a restart

        # A Hospital3 record, in Hospital3's store: opened by a clinician its patient consented to, no other.
        record = h3_clinician.create_record("h3-patient-1", observation("Hemoglobin", 11.8, "g/dL"), "laboratory")
        h3_patient.grant(h1_clinician.member_id(), ["treatment"], until, record_ids=[record["id"]])
        assert eventually_opened(h1_clinician, record["id"]).resource["valueQuantity"]["value"] == 11.8
        assert isinstance(h2_clinician.open_records([record["id"]])[0], Refused)
