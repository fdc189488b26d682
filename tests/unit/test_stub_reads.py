"""The stub asks the peer for a key once per transaction, and many keys in one GET_STATE_MULTIPLE."""

from __future__ import annotations

import pytest
from careledger_chaincode.runtime._stub import ChaincodeStub, Msg, PeerFeatures
from fabric_protos.peer import chaincode_shim_pb2

STATE = {"a": b"1", "b": b"2"}


class Peer:
    def __init__(self) -> None:
        self.calls: list[tuple[int, list[str]]] = []

    def __call__(self, kind: int, payload: bytes) -> bytes:
        if kind == Msg.GET_STATE:
            key = chaincode_shim_pb2.GetState.FromString(payload).key
            self.calls.append((kind, [key]))
            return STATE.get(key, b"")
        request = chaincode_shim_pb2.GetStateMultiple.FromString(payload)
        self.calls.append((kind, list(request.keys)))
        return chaincode_shim_pb2.GetStateMultipleResult(
            values=[STATE.get(k, b"") for k in request.keys]
        ).SerializeToString()


@pytest.mark.parametrize("multiple", [True, False])
def test_each_key_is_read_from_the_peer_once(multiple: bool) -> None:
    peer = Peer()
    message = chaincode_shim_pb2.ChaincodeMessage(txid="tx1", channel_id="ch")
    stub = ChaincodeStub(message, peer, PeerFeatures(get_multiple=multiple))
    assert stub.get_states(["a", "missing", "a"]) == [b"1", None, b"1"]
    assert stub.get_state("a") == b"1"
    assert stub.get_state("missing") is None
    assert stub.get_states(["b", "a"]) == [b"2", b"1"]
    asked = [k for _, keys in peer.calls for k in keys]
    assert sorted(asked) == ["a", "b", "missing"]
    if multiple:
        assert peer.calls == [(Msg.GET_STATE_MULTIPLE, ["a", "missing"]), (Msg.GET_STATE_MULTIPLE, ["b"])]
