"""The careledger CLI on the live network: flows from a shell, --json output, meaningful exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from careledger.cli import main
from careledger.services import Session
from careledger_network.network import Network
from click.testing import CliRunner

from .conftest import grant_seen, record_seen
from .resources import observation

pytestmark = pytest.mark.network

OBSERVATION = observation("Glucose", 5.4)


def _cli(network: Network, org: str, user: str, *args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(
        main, ["--org", org, "--user", user, "--json", *args], input=stdin, env={"CARELEDGER_STATE": str(network.state)}
    )
    return result.exit_code, result.output


def _on_hospital2(network: Network, seen: Callable[[Session], None]) -> None:
    """Wait until Hospital2's peer has what the CLI just wrote through Hospital1's, before it reads there."""
    with Session.open(network.state / "profiles" / "hospital2.json", "h2-clinician-1") as session:
        seen(session)


def test_create_open_grant_and_refusals(network: Network, tmp_path: Path) -> None:
    for org, user in (("hospital1", "h1-patient-2"), ("hospital1", "h1-clinician-1"), ("hospital2", "h2-clinician-1")):
        assert _cli(network, org, user, "member", "register")[0] == 0
    resource = tmp_path / "obs.json"
    resource.write_text(json.dumps(OBSERVATION))
    code, out = _cli(
        network,
        "hospital1",
        "h1-clinician-1",
        "record",
        "create",
        "--patient",
        "h1-patient-2",
        "--category",
        "laboratory",
        "--file",
        str(resource),
    )
    assert code == 0, out
    record_id = json.loads(out)["id"]

    _on_hospital2(network, lambda h2: record_seen(h2, record_id))
    code, out = _cli(network, "hospital2", "h2-clinician-1", "record", "open", record_id)
    assert code == 1  # refused: no consent
    assert "no consent" in out

    code, out = _cli(
        network,
        "hospital1",
        "h1-patient-2",
        "consent",
        "grant",
        "--to",
        "h2-clinician-1@Hospital2MSP",
        "--record",
        record_id,
        "--purpose",
        "treatment",
        "--until",
        "2099-01-01T00:00:00Z",
    )
    assert code == 0, out
    grant_id = json.loads(out)["id"]
    _on_hospital2(network, lambda h2: grant_seen(h2, grant_id))
    code, out = _cli(
        network, "hospital2", "h2-clinician-1", "record", "open", record_id, "--out", str(tmp_path / "opened")
    )
    assert code == 0, out
    assert json.loads((tmp_path / "opened" / f"{record_id}.json").read_text())["valueQuantity"]["value"] == 5.4

    code, out = _cli(network, "hospital1", "h1-patient-2", "audit", "log", "--fhir")
    assert code == 0
    bundle = json.loads(out)
    assert bundle["resourceType"] == "Bundle"
    assert {e["resource"]["resourceType"] for e in bundle["entry"]} == {"AuditEvent"}


@pytest.mark.parametrize(
    ("args", "exit_code", "message"),
    [
        (
            [
                "consent",
                "grant",
                "--to",
                "nobody-here",
                "--record",
                "rec-x",
                "--purpose",
                "treatment",
                "--until",
                "2099-01-01T00:00:00Z",
            ],
            3,
            "not registered",
        ),
        (
            [
                "consent",
                "grant",
                "--to",
                "h2-clinician-1@Hospital2MSP",
                "--record",
                "rec-x",
                "--purpose",
                "treatment",
                "--until",
                "someday",
            ],
            3,
            "does not exist",
        ),
        (["record", "create", "--patient", "h1-patient-2", "--category", "laboratory", "--file", "-"], 2, "not JSON"),
        (
            ["consent", "grant", "--to", "h2-clinician-1", "--purpose", "treatment", "--until", "2099-01-01T00:00:00Z"],
            2,
            "--record or --category",
        ),
    ],
)
def test_exit_codes(network: Network, args: list[str], exit_code: int, message: str) -> None:
    code, out = _cli(network, "hospital1", "h1-patient-2", *args, stdin="{not json")
    assert code == exit_code, out
    assert message in out


def test_missing_profile_says_what_to_do(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["--org", "hospital1", "--user", "x", "record", "list"], env={"CARELEDGER_STATE": str(tmp_path)}
    )
    assert result.exit_code == 4
    assert "make network-up" in result.output


def test_audit_export_then_check_against_the_ledger(network: Network, tmp_path: Path) -> None:
    code, out = _cli(network, "healthauthority", "ha-auditor-1", "audit", "log", "--all", "--fhir")
    assert code == 0
    export = tmp_path / "trail.json"
    export.write_text(out)
    code, out = _cli(network, "healthauthority", "ha-auditor-1", "audit", "check", str(export))
    assert code == 0, out
    assert json.loads(out)["ok"] is True
    bundle = json.loads(export.read_text())
    record_entity = next(e for e in bundle["entry"][0]["resource"]["entity"] if "detail" in e)
    record_entity["detail"][0]["valueString"] = "0" * 64
    export.write_text(json.dumps(bundle))
    code, out = _cli(network, "healthauthority", "ha-auditor-1", "audit", "check", str(export))
    assert code == 5
    assert json.loads(out)["not_on_ledger"] == ["0" * 64]


def _bench(network: Network, *args: str) -> tuple[int, str]:
    """careledger-bench (its own command: the client does not import the benchmarks) on the test network."""
    completed = subprocess.run(
        [str(Path(sys.executable).with_name("careledger-bench")), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "CARELEDGER_STATE": str(network.state)},
        check=False,
    )
    return completed.returncode, completed.stdout + completed.stderr


def test_bench_runs_single_workloads_and_writes_rows(network: Network, tmp_path: Path) -> None:
    rows_file = tmp_path / "rows.json"
    code, output = _bench(network, "trivial-write:2:6", "access-check:2:6", "--json", str(rows_file))
    assert code == 0, output
    assert output.splitlines()[0].split()[:2] == ["workload", "conc"]
    rows = json.loads(rows_file.read_text())
    assert [(r["workload"], r["operations"], r["errors"]) for r in rows] == [
        ("trivial write, Python client", 6, 0),
        ("access check (evaluate)", 6, 0),
    ]
    assert all(r["ops_per_s"] > 0 and r["p50_ms"] > 0 for r in rows)


@pytest.mark.parametrize(
    ("spec", "message"),
    [("nope:1:1", "unknown workload 'nope'"), ("grant:x", "positive integers"), ("grant:0:5", "positive integers")],
)
def test_bench_refuses_a_bad_workload_spec_before_running_anything(network: Network, spec: str, message: str) -> None:
    code, output = _bench(network, spec)
    assert code == 2
    assert message in output
    assert not output.startswith("workload")  # no table was started


def test_a_fhir_consent_imported_by_the_patient_lets_the_grantee_open_the_record(
    network: Network, tmp_path: Path
) -> None:
    """Consent in: an IHE PCF-shaped Consent (here: as another system would write it, standard purpose
    code only) becomes a grant; one that cannot be expressed is refused whole (exit 2), granting nothing."""
    resource = tmp_path / "obs.json"
    resource.write_text(json.dumps(OBSERVATION))
    code, out = _cli(
        network, "hospital1", "h1-clinician-1", "record", "create", "--patient", "h1-patient-2",
        "--category", "laboratory", "--file", str(resource),
    )  # fmt: skip
    assert code == 0, out
    record_id = json.loads(out)["id"]
    consent = {
        "resourceType": "Consent",
        "status": "active",
        "scope": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]
        },
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"identifier": {"system": "urn:careledger:member", "value": "h1-patient-2@Hospital1MSP"}},
        "policy": [{"uri": "urn:careledger:policy:patient-directed-access"}],
        "provision": {
            "type": "permit",
            "period": {"end": "2099-01-01T00:00:00Z"},
            "actor": [
                {
                    "role": {
                        "coding": [
                            {"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "IRCP"}
                        ]
                    },
                    "reference": {
                        "identifier": {"system": "urn:careledger:member", "value": "h2-clinician-1@Hospital2MSP"}
                    },
                }
            ],
            "purpose": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "TREAT"}],
            "data": [
                {
                    "meaning": "instance",
                    "reference": {"identifier": {"system": "urn:careledger:record", "value": record_id}},
                }
            ],
        },
    }
    refused = json.loads(json.dumps(consent))
    refused["provision"]["type"] = "deny"
    (tmp_path / "deny.json").write_text(json.dumps(refused))
    code, out = _cli(network, "hospital1", "h1-patient-2", "consent", "import", str(tmp_path / "deny.json"))
    assert code == 2
    assert "only permit provisions" in out
    (tmp_path / "consent.json").write_text(json.dumps(consent))
    code, out = _cli(network, "hospital1", "h1-patient-2", "consent", "import", str(tmp_path / "consent.json"))
    assert code == 0, out
    assert [g["purposes"] for g in json.loads(out)] == [["treatment"]]
    [grant] = json.loads(out)
    _on_hospital2(network, lambda h2: grant_seen(h2, grant["id"]))
    code, out = _cli(network, "hospital2", "h2-clinician-1", "record", "open", record_id, "--out", str(tmp_path / "o"))
    assert code == 0, out
