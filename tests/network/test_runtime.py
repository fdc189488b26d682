"""Regression tests of our chaincode runtime against live Fabric 3.1.5 peers, one per defect that made
fabric-chaincode-python 2.5.4 unusable (see chaincode/README.md)."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from careledger.connection import connect
from careledger.errors import EndorseError
from careledger_network.network import Network
from fabric_gateway import Contract, Gateway

pytestmark = pytest.mark.network


@pytest.fixture(scope="module")
def gateway(network: Network) -> Iterator[Gateway]:
    with connect(network.state / "profiles" / "hospital1.json", "h1-admin") as gw:  # diag: admins only
        yield gw


@pytest.fixture(scope="module")
def diag(gateway: Gateway, network: Network) -> Contract:
    return gateway.network(network.c.channel).contract(network.c.chaincode_name, "diag")


def test_1_concurrent_transactions_share_the_stream(diag: Contract) -> None:
    """2.5.4: GRPC_CALL_ERROR_TOO_MANY_OPERATIONS, 72 of 200 submits failed at 16 in flight."""
    run = uuid.uuid4().hex[:8]

    def submit(i: int) -> bytes:
        return diag.submit_transaction("Put", f"conc-{run}-{i}", str(i))

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(submit, range(200)))
    assert len(results) == 200
    values = json.loads(diag.evaluate_transaction("GetMany", ",".join(f"conc-{run}-{i}" for i in range(200))))
    assert values == [str(i) for i in range(200)]


def test_2_an_exception_is_answered_not_left_to_the_peer_timeout(diag: Contract) -> None:
    """2.5.4: an exception in chaincode was never answered; the peer waited 30 s and timed out."""
    with pytest.raises(EndorseError) as info:
        diag.submit_transaction("Fail")
    # The answer is ours (status 500 with the exception type), not the peer's execute timeout.
    assert "chaincode response 500, INTERNAL: diag:Fail failed (RuntimeError)" in str(info.value)
    assert "timeout" not in str(info.value).lower()
    assert info.value.code == "INTERNAL"


def test_3_events_reach_the_committed_block(diag: Contract, gateway: Gateway, network: Network) -> None:
    """2.5.4: set_event was silently dropped."""
    key = f"event-{uuid.uuid4().hex[:8]}"
    transaction = diag.new_proposal("Put", [key, "v"]).endorse()
    status = transaction.submit().raise_for_status()
    events = gateway.network(network.c.channel).chaincode_events(
        network.c.chaincode_name, start_block=status.block_number, timeout=5
    )
    for event in events:
        if event.transaction_id == transaction.transaction_id:
            assert (event.block_number, event.event_name, event.payload) == (
                status.block_number,
                "diag.Put",
                key.encode(),
            )
            assert event.chaincode_name == network.c.chaincode_name
            break
    else:
        pytest.fail("the transaction's chaincode event was not delivered")


def test_4_invoke_chaincode_sends_a_well_formed_request(diag: Contract) -> None:
    """2.5.4 sent the wrong message (the peer panicked). Ours reaches the peer's own checks: calling the
    same chaincode within its transaction is refused by Fabric, and that refusal comes back as an error."""
    with pytest.raises(EndorseError) as info:
        diag.evaluate_transaction("Call", "careledger", "diag:Get", "readiness")
    message = str(info.value)
    assert "INVOKE_CHAINCODE failed" in message
    assert "(careledger) exists" in message  # Fabric's re-entrancy rule, i.e. the request was understood


def test_5_peer_error_replies_are_errors_not_values(diag: Contract) -> None:
    """2.5.4 treated ERROR replies as success: the error text could come back as a value."""
    with pytest.raises(EndorseError) as info:
        diag.evaluate_transaction("PrivateGet", "no-such-collection", "k")
    assert "collection careledger/careledger/no-such-collection could not be found" in str(info.value)
    assert info.value.code == "INTERNAL"


def test_7_no_values_in_chaincode_logs(diag: Contract, network: Network) -> None:
    """2.5.4 logged every proposal and put_state values at INFO."""
    marker = f"secret-value-{uuid.uuid4().hex}"
    diag.submit_transaction("Put", f"log-{uuid.uuid4().hex[:8]}", marker)
    diag.evaluate_transaction("Transient", transient={"secret": marker.encode()})
    for org in network.c.orgs:
        log = (network.state / "logs" / f"cc-{org.key}.log").read_text(errors="replace")
        assert marker not in log


def test_8_range_queries_return_no_composite_keys(diag: Contract) -> None:
    """2.5.4 returned composite keys from get_state_by_range."""
    diag.submit_transaction("PutSimple", "range-check", "v")
    keys = json.loads(diag.evaluate_transaction("RangeSimple"))
    assert "diag-range-check" in keys
    assert all(not k.startswith("\x00") for k in keys)  # the ledger holds many composite keys too


def test_8_transient_data_reaches_the_chaincode(diag: Contract) -> None:
    """2.5.4 returned None for transient data."""
    digests = json.loads(diag.evaluate_transaction("Transient", transient={"a": b"alpha", "b": b"beta"}))
    assert digests == {"a": hashlib.sha256(b"alpha").hexdigest(), "b": hashlib.sha256(b"beta").hexdigest()}


def test_8_key_level_endorsement_is_enforced(diag: Contract) -> None:
    """2.5.4 had no key-level endorsement. Set it, then a write not endorsed by that org is invalid."""
    key = f"sbe-{uuid.uuid4().hex[:8]}"
    diag.submit_transaction("PutSimple", key, "v1")
    diag.submit_transaction("SetKeyEndorsers", key, "Hospital2MSP")
    assert json.loads(diag.evaluate_transaction("GetKeyEndorsers", key)) == ["Hospital2MSP"]
    without = diag.new_proposal(
        "PutSimple", [key, "v2"], endorsing_organizations=["Hospital1MSP", "HealthAuthorityMSP"]
    )
    assert without.endorse().submit().status().code == "ENDORSEMENT_POLICY_FAILURE"
    with_h2 = diag.new_proposal("PutSimple", [key, "v3"], endorsing_organizations=["Hospital1MSP", "Hospital2MSP"])
    assert with_h2.endorse().submit().status().successful


def test_9_certificate_attributes_are_parsed(network: Network) -> None:
    """2.5.4's contract API never parsed certificate attributes (get_attribute was always None)."""
    with connect(network.state / "profiles" / "hospital1.json", "h1-researcher-1") as gw:
        who = json.loads(
            gw.network(network.c.channel).contract(network.c.chaincode_name).evaluate_transaction("WhoAmI")
        )
    assert who["role"] == "researcher"
    assert who["member_id"] == "h1-researcher-1@Hospital1MSP"
    assert who["org"] == "Hospital1MSP"


def test_batched_reads_and_writes_are_used(diag: Contract, network: Network) -> None:
    """Fabric 3.1's GET_STATE_MULTIPLE / WRITE_BATCH_STATE: the peer offers them and the runtime takes them."""
    log = (network.state / "logs" / "cc-hospital1.log").read_text()
    assert "peer ready (write batch: True, get multiple: True)" in log
    run = uuid.uuid4().hex[:6]
    diag.submit_transaction("Put", f"many-{run}-a", "A")
    assert json.loads(diag.evaluate_transaction("GetMany", f"many-{run}-a,many-{run}-missing")) == ["A", None]


def test_chaincode_events_resume_from_a_checkpoint(
    diag: Contract, gateway: Gateway, network: Network, tmp_path: Path
) -> None:
    from fabric_gateway import FileCheckpointer

    run = uuid.uuid4().hex[:8]
    first = diag.new_proposal("Put", [f"cp-{run}-1", "a"]).endorse()
    start = first.submit().raise_for_status().block_number
    second = diag.new_proposal("Put", [f"cp-{run}-2", "b"]).endorse()
    second.submit().raise_for_status()
    checkpoint = FileCheckpointer(tmp_path / "events.json")
    net = gateway.network(network.c.channel)
    seen = []
    with net.chaincode_events(network.c.chaincode_name, start_block=start, timeout=5, checkpoint=checkpoint) as events:
        for event in events:
            seen.append(event.transaction_id)
            if event.transaction_id == first.transaction_id:
                checkpoint.checkpoint_chaincode_event(event)  # handled: record it
                break  # then the listener stops (or crashes)
    assert seen[-1] == first.transaction_id
    resumed = FileCheckpointer(tmp_path / "events.json")  # a new process reads the checkpoint
    assert resumed.transaction_id == first.transaction_id
    for event in net.chaincode_events(network.c.chaincode_name, timeout=5, checkpoint=resumed):
        assert event.transaction_id != first.transaction_id  # never repeated
        if event.transaction_id == second.transaction_id:
            assert event.payload == f"cp-{run}-2".encode()
            break
    else:
        pytest.fail("the resumed listener missed the second event")
