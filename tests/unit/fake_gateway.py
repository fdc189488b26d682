"""A fake Gateway and Deliver service for offline tests of fabric_gateway: it checks every signature with
the client's public key, records each call with its deadline, and answers as a peer would."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import grpc
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from fabric_protos.common import common_pb2
from fabric_protos.gateway import gateway_pb2
from fabric_protos.msp import identities_pb2
from fabric_protos.peer import events_pb2, proposal_pb2, proposal_response_pb2, transaction_pb2
from google.rpc import status_pb2


class FakeRpcError(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode, details: str, peer_messages: list[tuple[str, str, str]] = ()) -> None:  # type: ignore[assignment]
        self._code, self._details = code, details
        status = status_pb2.Status(code=code.value[0], message=details)
        for address, msp, message in peer_messages:
            status.details.add().Pack(gateway_pb2.ErrorDetail(address=address, msp_id=msp, message=message))
        self._trailing = (("grpc-status-details-bin", status.SerializeToString()),)

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details

    def trailing_metadata(self) -> Any:
        return self._trailing


def prepared(result: bytes, endorsers: list[str], channel: str = "ch1") -> common_pb2.Envelope:
    """An endorsed transaction as the gateway prepares it: one action with the result and endorsements."""
    action = proposal_pb2.ChaincodeAction(response=proposal_response_pb2.Response(status=200, payload=result))
    prp = proposal_response_pb2.ProposalResponsePayload(extension=action.SerializeToString())
    endorsed = transaction_pb2.ChaincodeEndorsedAction(proposal_response_payload=prp.SerializeToString())
    for msp in endorsers:
        endorsed.endorsements.add(endorser=identities_pb2.SerializedIdentity(mspid=msp).SerializeToString())
    cap = transaction_pb2.ChaincodeActionPayload(action=endorsed)
    tx = transaction_pb2.Transaction(actions=[transaction_pb2.TransactionAction(payload=cap.SerializeToString())])
    header = common_pb2.Header(channel_header=common_pb2.ChannelHeader(channel_id=channel).SerializeToString())
    payload = common_pb2.Payload(header=header, data=tx.SerializeToString())
    return common_pb2.Envelope(payload=payload.SerializeToString())


class FakeStream:
    """A server stream: yields its responses, then waits (like a peer with nothing new) until cancelled or
    its deadline passes; raises `error` at the end when given."""

    def __init__(self, responses: list[Any], timeout: float | None, error: grpc.RpcError | None = None) -> None:
        self._responses, self._timeout, self._error = responses, timeout, error
        self._cancelled = threading.Event()

    def cancel(self) -> None:
        self._cancelled.set()

    def __iter__(self) -> Iterator[Any]:
        yield from self._responses
        if self._error is not None:
            raise self._error
        if self._cancelled.wait(self._timeout):
            raise FakeRpcError(grpc.StatusCode.CANCELLED, "Locally cancelled by application!")
        raise FakeRpcError(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded")


class FakeTransport:
    def __init__(self, public_key: ec.EllipticCurvePublicKey) -> None:
        self.public_key = public_key
        self.calls: list[tuple[str, Any, float | None]] = []
        self.endorse_error: grpc.RpcError | None = None
        self.submit_error: grpc.RpcError | None = None
        self.commit_code = transaction_pb2.VALID
        self.chaincode_events: list[gateway_pb2.ChaincodeEventsResponse] = []
        self.deliveries: list[events_pb2.DeliverResponse] = []
        self.stream_error: grpc.RpcError | None = None

    def verify(self, message: bytes, signature: bytes) -> None:
        self.public_key.verify(signature, message, ec.ECDSA(hashes.SHA256()))

    def Evaluate(self, request: Any, timeout: float | None = None) -> Any:
        self.calls.append(("Evaluate", request, timeout))
        self.verify(request.proposed_transaction.proposal_bytes, request.proposed_transaction.signature)
        return gateway_pb2.EvaluateResponse(result=proposal_response_pb2.Response(status=200, payload=b"value"))

    def Endorse(self, request: Any, timeout: float | None = None) -> Any:
        self.calls.append(("Endorse", request, timeout))
        if self.endorse_error:
            raise self.endorse_error
        self.verify(request.proposed_transaction.proposal_bytes, request.proposed_transaction.signature)
        return gateway_pb2.EndorseResponse(prepared_transaction=prepared(b"result", ["Org1MSP", "Org2MSP"]))

    def Submit(self, request: Any, timeout: float | None = None) -> Any:
        self.calls.append(("Submit", request, timeout))
        if self.submit_error:
            raise self.submit_error
        self.verify(request.prepared_transaction.payload, request.prepared_transaction.signature)
        return gateway_pb2.SubmitResponse()

    def CommitStatus(self, request: Any, timeout: float | None = None) -> Any:
        self.calls.append(("CommitStatus", request, timeout))
        self.verify(request.request, request.signature)
        return gateway_pb2.CommitStatusResponse(result=self.commit_code, block_number=7)

    def ChaincodeEvents(self, request: Any, timeout: float | None = None) -> Any:
        self.calls.append(("ChaincodeEvents", request, timeout))
        self.verify(request.request, request.signature)
        return FakeStream(list(self.chaincode_events), timeout, self.stream_error)

    def _deliver(self, name: str, requests: Iterator[Any], timeout: float | None) -> Any:
        envelope = next(requests)
        self.calls.append((name, envelope, timeout))
        self.verify(envelope.payload, envelope.signature)
        return FakeStream(list(self.deliveries), timeout, self.stream_error)

    def Deliver(self, requests: Iterator[Any], timeout: float | None = None) -> Any:
        return self._deliver("Deliver", requests, timeout)

    def DeliverFiltered(self, requests: Iterator[Any], timeout: float | None = None) -> Any:
        return self._deliver("DeliverFiltered", requests, timeout)

    def DeliverWithPrivateData(self, requests: Iterator[Any], timeout: float | None = None) -> Any:
        return self._deliver("DeliverWithPrivateData", requests, timeout)
