"""The scenario chaincode (chaincode/scenario_chaincode) offline: each function the official gateway
scenarios call, on the in-memory ledger; key-level endorsement through the peer stub, since the memory
ledger keeps no key-level policies; the deployment description; and the server's entry point."""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import NoReturn

import pytest
from careledger_chaincode.runtime import ClientIdentity, Outcome
from careledger_chaincode.runtime._stub import VALIDATION_PARAMETER, ChaincodeStub, Msg, PeerFeatures
from careledger_chaincode.runtime.testing import MemoryLedger
from fabric_protos.common import policies_pb2
from fabric_protos.msp import msp_principal_pb2
from fabric_protos.peer import chaincode_pb2, chaincode_shim_pb2
from hypothesis import given
from hypothesis import strategies as st

CHAINCODE_DIR = Path(__file__).resolve().parents[2] / "chaincode"
# The package is newer than the venv's editable install, which lists its packages by name: until
# `pip install -e .` is run again, it is found through its folder.
if importlib.util.find_spec("scenario_chaincode") is None:
    sys.path.insert(0, str(CHAINCODE_DIR))

from scenario_chaincode import scenario_router  # noqa: E402
from scenario_chaincode import server as scenario_server  # noqa: E402
from scenario_chaincode._common import MAX_VALUE  # noqa: E402
from scenario_chaincode.deployment import OrgMapping, collections_config, definitions  # noqa: E402
from scenario_chaincode.failures import CRASH_EXIT_CODE, NONDET_KEY, ORGS_FAIL_KEY  # noqa: E402
from scenario_chaincode.sbe import describe_policy, every_peer_org_policy  # noqa: E402

H1, H2, HA = "Hospital1MSP", "Hospital2MSP", "HealthAuthorityMSP"

# Every function name a runnable feature file calls (docs/gateway-scenarios.md).
# fmt: off
FEATURE_FUNCTIONS = {
    "echo", "put", "get", "echoTransient", "errorMessage", "event",  # basic
    "getPeerOrg", "checkEndorsingOrg", "WritePrivateData", "ReadPrivateData",  # private: endorsement, data
    "SetStateWithEndorser", "SetStateEndorsers", "ChangeState", "GetState",  # private: key-level policies
    "exists", "crash", "nondet", "orgsFail",  # errors
}
# fmt: on


class Crashed(BaseException):
    """What the stand-in for os._exit raises: a BaseException, so the router cannot turn it into an answer."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def fake_exit(code: int) -> NoReturn:
    raise Crashed(code)


CLIENT = ClientIdentity(msp_id=H1, certificate_pem=b"", attributes={"hf.EnrollmentID": "user1"})


def peer_ledger(peer_msp: str | None = H1) -> MemoryLedger:
    """The ledger as one organization's peer runs the chaincode."""
    return MemoryLedger(scenario_router(peer_msp, fake_exit))


def call(ledger: MemoryLedger, function: str, *args: str, transient: dict[str, bytes] | None = None) -> Outcome:
    return ledger.invoke(CLIENT, function, *args, transient=transient)


def ok(ledger: MemoryLedger, function: str, *args: str, transient: dict[str, bytes] | None = None) -> str:
    outcome = call(ledger, function, *args, transient=transient)
    assert outcome.status == 200, f"{function} failed: {outcome.status} {outcome.message}"
    return outcome.payload.decode()


def refused(ledger: MemoryLedger, function: str, *args: str, transient: dict[str, bytes] | None = None) -> str:
    outcome = call(ledger, function, *args, transient=transient)
    assert outcome.status == 400, f"{function} should be refused, got {outcome.status} {outcome.message}"
    assert outcome.message.startswith("INVALID_ARGUMENT: "), outcome.message
    return outcome.message


def test_every_function_the_features_call_is_there_under_its_name() -> None:
    offered = set(scenario_router(H1, fake_exit).describe())
    assert offered >= FEATURE_FUNCTIONS
    assert {f"scenario:{name}" for name in FEATURE_FUNCTIONS} <= offered


# -- basic -----------------------------------------------------------------------------------------------
@given(st.text(max_size=200))
def test_echo_answers_its_argument_unchanged(text: str) -> None:
    assert ok(peer_ledger(), "echo", text) == text


def test_put_answers_the_value_and_get_reads_it_once_committed() -> None:
    ledger = peer_ledger()
    assert ok(ledger, "get", "update") == ""
    assert ok(ledger, "put", "update", "ledger") == "ledger"
    assert ledger.state == {"update": b"ledger"}
    assert ok(ledger, "get", "update") == "ledger"


@pytest.mark.parametrize(("key", "value"), [("", "v"), ("a\x00b", "v"), ("k" * 257, "v"), ("k", "v" * (MAX_VALUE + 1))])
def test_put_refuses_bad_keys_and_oversized_values(key: str, value: str) -> None:
    ledger = peer_ledger()
    refused(ledger, "put", key, value)
    assert ledger.state == {}


def test_echo_transient_answers_the_map_as_json() -> None:
    transient = {"key1": b"value1", "key2": b"value2"}
    assert json.loads(ok(peer_ledger(), "echoTransient", transient=transient)) == {"key1": "value1", "key2": "value2"}
    assert json.loads(ok(peer_ledger(), "echoTransient")) == {}
    # Bytes it could not echo faithfully are refused, by the field's name.
    assert "blob" in refused(peer_ledger(), "echoTransient", transient={"blob": b"\xff\xfe"})


def test_error_message_fails_with_exactly_the_text_and_keeps_it_out_of_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ledger = peer_ledger()
    caplog.set_level(logging.INFO)
    outcome = call(ledger, "errorMessage", "ALL_YOUR_ERROR_ARE_BELONG_TO_US")
    assert (outcome.status, outcome.message, outcome.payload) == (500, "ALL_YOUR_ERROR_ARE_BELONG_TO_US", b"")
    assert "ALL_YOUR_ERROR" not in caplog.text
    assert "31 characters" in caplog.text
    assert ledger.blocks == []


def test_event_is_committed_with_its_name_and_payload_and_needs_a_name() -> None:
    ledger = peer_ledger()
    assert ok(ledger, "event", "foo", "bar") == ""
    assert [(e.name, e.payload) for e in ledger.events] == [("foo", b"bar")]
    assert ledger.blocks[-1].event == b"foo\nbar"
    refused(ledger, "event", "", "payload")
    assert len(ledger.events) == 1


# -- which peer endorsed ---------------------------------------------------------------------------------
@pytest.mark.parametrize("msp", [H1, H2, HA])
def test_get_peer_org_names_the_peer_not_the_client(msp: str) -> None:
    outcome = call(peer_ledger(msp), "getPeerOrg")  # the client is always Hospital1's
    assert (outcome.status, outcome.payload) == (200, msp.encode())


def test_without_its_peer_msp_the_server_says_what_to_set() -> None:
    outcome = call(peer_ledger(None), "getPeerOrg")
    assert outcome.status == 500
    assert "CORE_PEER_LOCALMSPID" in outcome.message


def test_check_endorsing_org_succeeds_only_on_the_organizations_named_in_transient_data() -> None:
    named = {H1: b"value1", HA: b"value2"}
    assert ok(peer_ledger(H1), "checkEndorsingOrg", transient=named) == "success"
    assert ok(peer_ledger(HA), "checkEndorsingOrg", transient=named) == "success"
    outcome = call(peer_ledger(H2), "checkEndorsingOrg", transient=named)
    assert outcome.status == 500
    assert H2 in outcome.message


# -- private data ----------------------------------------------------------------------------------------
def private_write(collections: str, key: str, value: bytes) -> dict[str, bytes]:
    return {"collection": collections.encode(), "key": key.encode(), "value": value}


def test_write_private_data_puts_the_value_in_each_collection_and_only_hashes_in_the_block() -> None:
    ledger = peer_ledger()
    transient = private_write("SharedCollection,Org3Collection,SharedCollection", "key-109", b"value-109")
    assert ok(ledger, "WritePrivateData", transient=transient) == ""
    assert ledger.private == {
        "SharedCollection": {"key-109": b"value-109"},
        "Org3Collection": {"key-109": b"value-109"},
    }
    assert ledger.state == {}
    block = ledger.blocks[-1]
    assert len(block.private_write_hashes) == 2
    assert not block.contains(b"value-109")
    assert not block.contains(b"key-109")
    for collection in ("SharedCollection", "Org3Collection"):
        assert ok(ledger, "ReadPrivateData", collection, "key-109") == "value-109"
    assert ok(ledger, "ReadPrivateData", "Org1Collection", "key-109") == ""


@pytest.mark.parametrize(
    ("transient", "expected"),
    [
        ({"key": b"k", "value": b"v"}, "collection"),
        ({"collection": b"C"}, "key, value"),
        (private_write("A,,B", "k", b"v"), "none empty"),
        (private_write("C", "", b"v"), "key must be"),
        (private_write("C", "k", b"v" * (MAX_VALUE + 1)), "at most"),
        ({"collection": b"\xff", "key": b"k", "value": b"v"}, "UTF-8"),
    ],
)
def test_write_private_data_refuses_incomplete_or_bad_transient_data(
    transient: dict[str, bytes], expected: str
) -> None:
    ledger = peer_ledger()
    assert expected in refused(ledger, "WritePrivateData", transient=transient)
    assert ledger.private == {}


# -- deliberate failures ---------------------------------------------------------------------------------
def test_exists_and_the_routers_refusals_of_wrong_calls() -> None:
    ledger = peer_ledger()
    assert ok(ledger, "exists", "123") == "false"
    ok(ledger, "put", "123", "x")
    assert ok(ledger, "exists", "123") == "true"
    assert "exists takes 1 arguments" in refused(ledger, "exists")
    outcome = call(ledger, "nonexistent")
    assert (outcome.status, outcome.message.split(":")[0]) == (400, "UNKNOWN_FUNCTION")
    assert "nonexistent" in outcome.message


def test_crash_ends_the_process_without_an_answer_or_a_write() -> None:
    ledger = peer_ledger()
    with pytest.raises(Crashed) as crashed:
        call(ledger, "crash")
    assert crashed.value.code == CRASH_EXIT_CODE
    assert ledger.blocks == []


def test_nondet_differs_from_one_endorser_to_the_next() -> None:
    first, second = peer_ledger(H1), peer_ledger(H2)
    answers = [ok(first, "nondet"), ok(second, "nondet")]
    assert answers[0] != answers[1]
    assert [first.state[NONDET_KEY], second.state[NONDET_KEY]] == [a.encode() for a in answers]


def test_orgs_fail_refuses_on_the_named_organizations_peers_only() -> None:
    refusing = json.dumps([H2, HA])
    for msp in (H2, HA):
        outcome = call(peer_ledger(msp), "orgsFail", refusing)
        assert (outcome.status, outcome.message) == (500, f"{msp} refuses to endorse this")
    ledger = peer_ledger(H1)
    assert ok(ledger, "orgsFail", refusing) == ""
    assert ORGS_FAIL_KEY in ledger.state


@pytest.mark.parametrize("argument", ["not json", '"Hospital1MSP"', "[1]", '{"a": 1}', '["bad msp!"]'])
def test_orgs_fail_refuses_anything_but_a_list_of_msp_ids(argument: str) -> None:
    refused(peer_ledger(), "orgsFail", argument)


# -- key-level endorsement, through the peer stub ----------------------------------------------------------
class FakePeer:
    """The peer's side of the stream for one transaction: records writes, answers metadata reads."""

    def __init__(self, policies: dict[str, bytes] | None = None) -> None:
        self.policies = policies or {}
        self.puts: dict[str, bytes] = {}
        self.metadata: dict[str, tuple[str, bytes]] = {}

    def __call__(self, kind: int, payload: bytes) -> bytes:
        if kind == Msg.PUT_STATE:
            put = chaincode_shim_pb2.PutState.FromString(payload)
            self.puts[put.key] = put.value
        elif kind == Msg.PUT_STATE_METADATA:
            request = chaincode_shim_pb2.PutStateMetadata.FromString(payload)
            self.metadata[request.key] = (request.metadata.metakey, request.metadata.value)
        elif kind == Msg.WRITE_BATCH_STATE:
            for record in chaincode_shim_pb2.WriteBatchState.FromString(payload).rec:
                if record.type == chaincode_shim_pb2.WriteRecord.PUT_STATE_METADATA:
                    self.metadata[record.key] = (record.metadata.metakey, record.metadata.value)
                else:
                    self.puts[record.key] = record.value
        elif kind == Msg.GET_STATE_METADATA:
            key = chaincode_shim_pb2.GetStateMetadata.FromString(payload).key
            result = chaincode_shim_pb2.StateMetadataResult()
            if key in self.policies:
                result.entries.add(metakey=VALIDATION_PARAMETER, value=self.policies[key])
            return bytes(result.SerializeToString())
        else:
            raise AssertionError(f"unexpected call {Msg.Type.Name(kind)}")
        return b""


def run_on_peer(peer: FakePeer, *args: str, write_batch: bool = False) -> Outcome:
    cc_input = chaincode_pb2.ChaincodeInput(args=[a.encode() for a in args])
    message = chaincode_shim_pb2.ChaincodeMessage(
        txid="tx1", channel_id="careledger", payload=cc_input.SerializeToString()
    )
    stub = ChaincodeStub(message, peer, PeerFeatures(write_batch=write_batch))
    return scenario_router(H1, fake_exit).dispatch(stub)


def peers_required(policy: bytes) -> tuple[int, list[tuple[str, int]]]:
    envelope = policies_pb2.SignaturePolicyEnvelope.FromString(policy)
    principals = []
    for identity in envelope.identities:
        assert identity.principal_classification == msp_principal_pb2.MSPPrincipal.ROLE
        role = msp_principal_pb2.MSPRole.FromString(identity.principal)
        principals.append((role.msp_identifier, role.role))
    assert [rule.signed_by for rule in envelope.rule.n_out_of.rules] == list(range(len(principals)))
    return envelope.rule.n_out_of.n, principals


PEER = msp_principal_pb2.MSPRole.PEER


@pytest.mark.parametrize("write_batch", [False, True])
def test_set_state_with_endorser_writes_the_value_and_a_one_org_peer_policy(write_batch: bool) -> None:
    peer = FakePeer()
    outcome = run_on_peer(peer, "SetStateWithEndorser", "key-001", "value-001", H1, write_batch=write_batch)
    assert outcome.status == 200, outcome.message
    assert peer.puts == {"key-001": b"value-001"}
    metakey, policy = peer.metadata["key-001"]
    assert metakey == VALIDATION_PARAMETER
    assert peers_required(policy) == (1, [(H1, PEER)])


def test_set_state_endorsers_requires_a_peer_of_both_organizations() -> None:
    peer = FakePeer()
    assert run_on_peer(peer, "SetStateEndorsers", "key-001", H1, HA).status == 200
    assert peer.puts == {}
    assert peers_required(peer.metadata["key-001"][1]) == (2, [(H1, PEER), (HA, PEER)])
    # A bad MSP id is refused before anything is written.
    peer = FakePeer()
    assert run_on_peer(peer, "SetStateWithEndorser", "key-001", "v", "not an msp").status == 400
    assert (peer.puts, peer.metadata) == ({}, {})


def test_get_state_endorsers_reads_the_keys_policy_back() -> None:
    peer = FakePeer({"key-001": every_peer_org_policy([H2, HA])})
    outcome = run_on_peer(peer, "GetStateEndorsers", "key-001")
    assert json.loads(outcome.payload) == {"required": 2, "peers_of": [H2, HA]}
    outcome = run_on_peer(peer, "GetStateEndorsers", "key-002")
    assert json.loads(outcome.payload) == {"required": 0, "peers_of": []}


def test_the_policy_is_the_same_bytes_on_every_endorser_and_names_each_org_once() -> None:
    policy = every_peer_org_policy([H1, HA, H1])
    assert policy == every_peer_org_policy([H1, HA])
    assert describe_policy(policy) == {"required": 2, "peers_of": [H1, HA]}
    with pytest.raises(ValueError, match="at least one"):
        every_peer_org_policy([])


def test_change_and_get_state_are_plain_writes_and_reads() -> None:
    ledger = peer_ledger()
    ok(ledger, "ChangeState", "key-001", "value-Org1")
    assert ok(ledger, "GetState", "key-001") == "value-Org1"
    assert ok(ledger, "GetState", "key-404") == ""


# -- deployment --------------------------------------------------------------------------------------------
def test_three_definitions_with_the_features_policies_and_collections_of_our_organizations() -> None:
    orgs = OrgMapping()
    by_name = {d.name: d for d in definitions(orgs)}
    assert by_name["basic"].signature_policy == f"AND('{H1}.member', '{H2}.member')"
    assert by_name["private"].signature_policy == f"OR('{H1}.member', '{H2}.member', '{HA}.member')"
    assert by_name["errors"].signature_policy == f"AND('{H1}.member', '{H2}.member', '{HA}.member')"
    assert (by_name["basic"].collections, by_name["errors"].collections) == ([], [])
    assert by_name["private"].collections == collections_config(orgs)
    collections = {c["name"]: c for c in collections_config(orgs)}
    assert set(collections) == {"SharedCollection", "Org1Collection", "Org3Collection"}
    assert collections["SharedCollection"]["policy"] == f"OR('{H1}.member', '{HA}.member')"
    assert collections["SharedCollection"]["requiredPeerCount"] == 1
    assert collections["Org1Collection"]["endorsementPolicy"] == {"signaturePolicy": f"OR('{H1}.member')"}
    assert collections["Org3Collection"]["memberOnlyRead"] is False
    assert "MSP" not in json.dumps(collections).replace(H1, "").replace(HA, "")  # no Org1MSP etc. left
    assert orgs.translate('["Org2MSP","Org3MSP"]') == f'["{H2}","{HA}"]'


# -- the server's entry point -----------------------------------------------------------------------------
def test_the_server_refuses_to_start_without_its_settings(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["scenario_chaincode"])
    for name in ("CHAINCODE_ID", "CHAINCODE_SERVER_ADDRESS", "CORE_PEER_LOCALMSPID", "CHAINCODE_TLS_CERT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CHAINCODE_ID", "scenario:0")
    assert scenario_server.main() == 2
    assert "CHAINCODE_SERVER_ADDRESS, CORE_PEER_LOCALMSPID" in capsys.readouterr().err
    monkeypatch.setenv("CHAINCODE_SERVER_ADDRESS", "127.0.0.1:0")
    monkeypatch.setenv("CORE_PEER_LOCALMSPID", H1)
    monkeypatch.setenv("CHAINCODE_TLS_CERT", "/nonexistent/server.crt")
    assert scenario_server.main() == 2
    assert "or none" in capsys.readouterr().err


def package_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(CHAINCODE_DIR), os.environ.get("PYTHONPATH", "")])}


def test_python_m_scenario_chaincode_serves_until_terminated() -> None:
    env = {
        **package_env(),
        "CHAINCODE_ID": "scenario:0",
        "CHAINCODE_SERVER_ADDRESS": "127.0.0.1:0",  # any free port: never one of the network's
        "CORE_PEER_LOCALMSPID": H2,
    }
    for name in ("CHAINCODE_TLS_CERT", "CHAINCODE_TLS_KEY", "CHAINCODE_TLS_CLIENT_CA"):
        env.pop(name, None)
    process = subprocess.Popen([sys.executable, "-m", "scenario_chaincode"], env=env, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        lines = [process.stderr.readline()]
        while lines[-1] and "serving" not in lines[-1] and len(lines) < 50:  # past any library warnings
            lines.append(process.stderr.readline())
        assert f"serving scenario for {H2} on 127.0.0.1:0 (plaintext)" in lines[-1], lines
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_importing_the_package_leaves_logging_alone() -> None:
    code = "import logging, scenario_chaincode\nroot = logging.getLogger()\nprint(root.level, len(root.handlers))"
    out = subprocess.run(
        [sys.executable, "-c", code], env=package_env(), capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == [str(logging.WARNING), "0"]
