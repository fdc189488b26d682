"""The consortium on separate hosts (issue 20): each organization in its own network namespace with its own
address (tests/network/hosts.py), deployed only from its own bundle, each party running its own steps on
its own host. Then the product's flows across them: a Hospital1 patient's record opened by a Hospital2
clinician after consent (the ciphertext fetched from Hospital1's store at Hospital1's address); a model run
by a Hospital1 clinician on Hospital2 records after consent; the auditor's check of those transactions
against the blocks. Then Hospital3 joins from a fifth host, each party taking its own step, and its clinician
and patient share records with Hospital1's. Prints the time from bundles to a ready network and for
Hospital3 to join, lone submit p50 and trivial-write tx/s at 64 in flight across the hosts (before and after
the join), and on the single-machine network in the same run (numbers, never asserted)."""

from __future__ import annotations

import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from careledger.ledger import BlockReader, verify_trail
from careledger.services import Refused, Session
from careledger_bench.workloads import Bench
from careledger_models.datasets import breast_cancer, to_observation
from careledger_models.policies import ensure_policy
from careledger_models.runner import ModelRunner, register
from careledger_models.train import train
from careledger_models.verify import verify_and_approve
from careledger_network.consortium import DEFAULT_PATH
from careledger_network.network import Network
from careledger_protocol import Purpose

from .conftest import eventually_opened, inferences_seen, member_seen, model_status_seen
from .hosts import Host, HostNetwork, why_unavailable
from .resources import observation

pytestmark = [
    pytest.mark.network,
    pytest.mark.slow,
    pytest.mark.skipif(why_unavailable() is not None, reason=str(why_unavailable())),
]
ORGS = ("ordererorg", "hospital1", "hospital2", "healthauthority")
JOINING = "hospital3"  # joins the running consortium from its own host
CLI = [sys.executable, "-m", "careledger_network.cli"]


def _step(host: Host, *args: str, state: Path | None = None, timeout: float = 300.0) -> str:
    env = "" if state is None else f"CARELEDGER_STATE={state}"
    done = host.run(["env", *([env] if env else []), *CLI, *args], timeout=timeout)
    assert done.returncode == 0, (
        f"`{' '.join(args)}` on {host.name} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
    )
    return done.stdout


def _on_each(hosts: dict[str, Host], names: tuple[str, ...], *args: str, bundles: Path) -> None:
    """The same step, run by each of these parties on its own host at once."""
    with ThreadPoolExecutor(len(names)) as pool:
        for job in [pool.submit(_step, hosts[n], *args, "--bundle", str(bundles / n)) for n in names]:
            job.result()


def _consortium(hosts: dict[str, Host], into: Path) -> Path:
    doc = yaml.safe_load(DEFAULT_PATH.read_text())
    doc["orderer_org"]["host"] = hosts["ordererorg"].address
    for org in doc["orgs"]:
        org["host"] = hosts[org["name"].lower()].address
    into.write_text(yaml.safe_dump(doc, sort_keys=False))
    return into


def test_the_consortium_runs_on_separate_hosts_from_its_bundles(tmp_path: Path, network: Network) -> None:
    """`network` (the single-machine network on loopback) runs beside it, for the figures side by side."""
    with HostNetwork("clmh", (*ORGS, JOINING), subnet="10.234.0.0/24") as net:
        hosts = net.hosts
        consortium = _consortium(hosts, tmp_path / "consortium.yaml")
        state, bundles = tmp_path / "generated", tmp_path / "bundles"
        # Generation runs CAs on loopback for a moment: inside a namespace, so never on this machine's ports.
        _step(hosts["ordererorg"], "generate", "--consortium", str(consortium), state=state)
        for org in ORGS:
            _step(hosts["ordererorg"], "bundle", "--consortium", str(consortium), "--org", org, "--out",
                  str(bundles / org), state=state)  # fmt: skip

        started = time.monotonic()
        _on_each(hosts, ORGS, "node", "up", bundles=bundles)
        _step(hosts["ordererorg"], "channel", "join", "--bundle", str(bundles / "ordererorg"))
        _on_each(hosts, ORGS[1:], "channel", "join", bundles=bundles)
        update = tmp_path / "block-access-update.pb"  # passed from admin to admin, each signing on its own host
        for org in ("hospital1", "hospital2", "ordererorg"):
            _step(hosts[org], "channel", "restrict-blocks", "--bundle", str(bundles / org), "--update", str(update))
        _step(hosts["hospital1"], "channel", "restrict-blocks", "--bundle", str(bundles / "hospital1"), "--update",
              str(update), "--submit")  # fmt: skip
        _on_each(hosts, ORGS[1:], "chaincode", "approve", bundles=bundles)
        _step(hosts["hospital1"], "chaincode", "commit", "--bundle", str(bundles / "hospital1"))
        _on_each(hosts, ("hospital2", "healthauthority"), "chaincode", "ready", bundles=bundles)
        ready_seconds = time.monotonic() - started

        h1, h2, ha = (bundles / o / "profiles" for o in ("hospital1", "hospital2", "healthauthority"))
        for profile, user in ((h1, "h1-admin"), (h1, "h1-clinician-1"), (h1, "h1-patient-1"), (h2, "h2-clinician-1")):
            with Session.open(profile / f"{profile.parent.name}.json", user) as s:
                s.register()
        with (
            Session.open(h1 / "hospital1.json", "h1-clinician-1") as clinician,
            Session.open(h1 / "hospital1.json", "h1-patient-1") as patient,
            Session.open(h2 / "hospital2.json", "h2-clinician-1") as other_clinician,
        ):
            record = clinician.create_record("h1-patient-1", observation("Hemoglobin", 12.9, "g/dL"), "laboratory")
            refused = other_clinician.open_records([record["id"]])
            assert isinstance(refused[0], Refused)
            patient.grant(other_clinician.member_id(), ["treatment"], "2099-01-01T00:00:00Z", record_ids=[record["id"]])
            opened = eventually_opened(other_clinician, record["id"], timeout=15)
            assert opened.resource["valueQuantity"]["value"] == 12.9
            tx_ids = [opened.access_tx_id]
        inference_tx_ids = _model_run(bundles, tmp_path / "model")
        tx_ids += inference_tx_ids
        with Session.open(ha / "healthauthority.json", "ha-auditor-1") as auditor:
            auditor.register()
            inferences_seen(auditor, [f"{t}:0" for t in inference_tx_ids])  # recorded through Hospital1's peer
            report = verify_trail(BlockReader(auditor.gateway, "careledger"), tx_ids)
            assert report.ok, report

        lone, loaded = _trivial_writes(h1)
        line = (
            f"\nseparate hosts: bundles to a ready network {ready_seconds:.1f} s; lone submit p50 {lone['p50_ms']} ms; "
            f"trivial write at 64 in flight {loaded['ops_per_s']} tx/s"
        )
        join_seconds = _hospital3_joins(hosts, consortium, state, bundles, record["id"])
        lone, loaded = _trivial_writes(h1)
        line += (
            f"\nHospital3 joined in {join_seconds:.1f} s; then, 3 of 4 organizations endorsing: lone submit p50 "
            f"{lone['p50_ms']} ms; 64 in flight {loaded['ops_per_s']} tx/s"
        )
        if net.delay(20):
            lone, loaded = _trivial_writes(h1)
            line += f"; with 20 ms between hosts: p50 {lone['p50_ms']} ms, {loaded['ops_per_s']} tx/s"
        else:
            line += "; this kernel has no netem, so no latency could be added between hosts"
        lone, loaded = _trivial_writes(network.state / "profiles")
        line += f"\nsingle host, same run: lone submit p50 {lone['p50_ms']} ms; 64 in flight {loaded['ops_per_s']} tx/s"
        print(line)
        for org in (*ORGS, JOINING):
            subprocess.run(hosts[org].command([*CLI, "node", "stop", "--bundle", str(bundles / org)]), check=False,
                           capture_output=True, timeout=120)  # fmt: skip


def _model_run(bundles: Path, artifacts: Path) -> list[str]:
    """A model trained here, registered by Hospital1's researcher and approved by the authority's auditor (each
    through its own host's gateway), run by Hospital1's clinician on Hospital2 records whose patient consented
    (their ciphertexts fetched from Hospital2's store at Hospital2's address). Returns the inference
    transactions, for the auditor's check against the blocks."""
    h1, h2, ha = (bundles / o / "profiles" / f"{o}.json" for o in ("hospital1", "hospital2", "healthauthority"))
    dataset = breast_cancer()
    trained = train(dataset, seed=21, out_dir=artifacts)
    for profile, user in ((h1, "h1-researcher-1"), (h2, "h2-admin"), (h2, "h2-patient-1"), (ha, "ha-auditor-1")):
        with Session.open(profile, user) as s:
            s.register()
    with (
        Session.open(h1, "h1-researcher-1") as researcher,
        Session.open(ha, "ha-auditor-1") as auditor,
        Session.open(h2, "h2-clinician-1") as h2_clinician,
        Session.open(h2, "h2-patient-1") as patient,
        Session.open(h1, "h1-clinician-1") as clinician,
    ):
        entry = register(researcher, trained)
        ensure_policy(auditor, entry["model_id"])
        entry = verify_and_approve(auditor, entry["model_id"], entry["version"], trained.artifact)
        records = []
        for row in range(3):
            features = dict(zip(dataset.features, dataset.frame.iloc[row].tolist(), strict=True))
            resource = to_observation(dataset, features, outcome=float(dataset.target.iloc[row]))
            records.append(h2_clinician.create_record("h2-patient-1", resource, dataset.category)["id"])
        until = "2099-01-01T00:00:00Z"
        patient.grant(clinician.member_id(), [Purpose.DIAGNOSIS_AI], until, categories=[dataset.category])
        # Approved through the authority's peer; Hospital1's sees it a moment later.
        model_status_seen(clinician, entry["model_id"], entry["version"], "approved", timeout=30)
        deadline = time.monotonic() + 30
        while True:  # the grant committed through Hospital2's peer; Hospital1's sees it a moment later
            run = ModelRunner(clinician, trained.artifact, entry["model_id"], entry["version"]).run(records)
            if len(run.inferences) == len(records) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert sorted(i.record_id for i in run.inferences) == sorted(records), (run.denied, run.invalid)
        return list(run.inference_tx_ids)


def _hospital3_joins(hosts: dict[str, Host], consortium: Path, state: Path, bundles: Path, h1_record: str) -> float:
    """Hospital3, added to the consortium definition, joins from its own host, each party taking its own steps;
    then a Hospital1 patient's record (written before) is opened by its clinician after consent, and its
    patient's record by Hospital1's clinician. Returns the seconds from generating its crypto to its
    gateway committing."""
    doc = yaml.safe_load(consortium.read_text())
    doc["orgs"].append(
        {"name": "Hospital3", "msp_id": "Hospital3MSP", "port_base": 7400, "peers": 1, "record_store": True,
         "host": hosts[JOINING].address, "admin": "h3-admin",
         "users": [{"id": "h3-clinician-1", "role": "clinician"}, {"id": "h3-patient-1", "role": "patient"}]}
    )  # fmt: skip
    definition = consortium.with_name("consortium-with-hospital3.yaml")
    definition.write_text(yaml.safe_dump(doc, sort_keys=False))
    public, update = bundles.parent / "hospital3-public", bundles.parent / "add-hospital3.pb"
    started = time.monotonic()
    generator = hosts["ordererorg"]
    _step(generator, "generate", "--consortium", str(definition), "--org", JOINING, state=state)
    for extra in ((), ("--public",)):
        out = public if extra else bundles / JOINING
        _step(generator, "bundle", "--consortium", str(definition), "--org", JOINING, *extra, "--out", str(out),
              state=state)  # fmt: skip
    _on_each(hosts, ORGS, "node", "add-org", "--definition", str(public), bundles=bundles)
    for org in ("hospital1", "hospital2", "ordererorg"):  # a majority of the members, and the orderer org
        _step(
            hosts[org], "channel", "add-org", "--bundle", str(bundles / org), "--org", JOINING, "--update", str(update)
        )
    _step(hosts["hospital1"], "channel", "add-org", "--bundle", str(bundles / "hospital1"), "--org", JOINING,
          "--update", str(update), "--submit")  # fmt: skip
    own = ("--bundle", str(bundles / JOINING))
    _step(hosts[JOINING], "node", "up", *own)
    _step(hosts[JOINING], "channel", "join", *own)
    _on_each(hosts, ORGS[1:], "chaincode", "approve", "--same-package", bundles=bundles)
    _step(hosts[JOINING], "chaincode", "approve", *own)
    _step(hosts["hospital1"], "chaincode", "commit", "--bundle", str(bundles / "hospital1"))
    _step(hosts[JOINING], "chaincode", "ready", *own)
    seconds = time.monotonic() - started

    h1, h3 = bundles / "hospital1" / "profiles" / "hospital1.json", bundles / JOINING / "profiles" / "hospital3.json"
    for user in ("h3-admin", "h3-clinician-1", "h3-patient-1"):
        with Session.open(h3, user) as s:
            s.register()
    until = "2099-01-01T00:00:00Z"
    with (
        Session.open(h1, "h1-patient-1") as h1_patient,
        Session.open(h1, "h1-clinician-1") as h1_clinician,
        Session.open(h3, "h3-clinician-1") as h3_clinician,
        Session.open(h3, "h3-patient-1") as h3_patient,
    ):
        assert isinstance(h3_clinician.open_records([h1_record])[0], Refused)
        member_seen(h1_patient, h3_clinician.member_id())  # registered through Hospital3's peer
        h1_patient.grant(h3_clinician.member_id(), ["treatment"], until, record_ids=[h1_record])
        assert eventually_opened(h3_clinician, h1_record, timeout=30).resource["valueQuantity"]["value"] == 12.9
        record = h3_clinician.create_record("h3-patient-1", observation("Hemoglobin", 11.2, "g/dL"), "laboratory")
        h3_patient.grant(h1_clinician.member_id(), ["treatment"], until, record_ids=[record["id"]])
        assert eventually_opened(h1_clinician, record["id"], timeout=30).resource["valueQuantity"]["value"] == 11.2
    return seconds


def _trivial_writes(profiles: Path) -> tuple[dict[str, object], dict[str, object]]:
    """Lone submit, then 64 in flight, through Hospital1's gateway (the bench's trivial write: diag Put)."""
    bench = Bench(profiles)
    try:
        return bench.trivial_write(1, 30).summary(), bench.trivial_write(64, 1000).summary()
    finally:
        bench.close()
