"""CareLedger's chaincode refusals: recognised once (careledger.errors.refusal_from, handed to every gateway
careledger.connection opens) into one type per code, carrying the transaction id and the peers' messages."""

from __future__ import annotations

import grpc
import pytest
from careledger.errors import (
    ChaincodeFailed,
    ChaincodeRefusal,
    Conflict,
    EndorseError,
    NotAuthorized,
    NotFound,
    NotFoundError,
    refusal_from,
)
from cryptography.hazmat.primitives.asymmetric import ec
from fabric_gateway import Gateway, Identity, signers

from .fake_gateway import FakeRpcError, FakeTransport
from .local_tls import certificate_pem


def _refusing(message: str) -> Gateway:
    key = ec.generate_private_key(ec.SECP256R1())
    transport = FakeTransport(key.public_key())
    transport.endorse_error = FakeRpcError(grpc.StatusCode.ABORTED, "failed", [("p:1", "Org1MSP", message)])
    identity = Identity("Org1MSP", certificate_pem(key))
    return Gateway(identity, transport, sign=signers.for_private_key(key), refine_endorse_error=refusal_from)


def test_a_refusal_carries_its_code_reason_id_and_peers() -> None:
    gateway = _refusing("chaincode response 400, NOT_AUTHORIZED: only the patient may grant")
    proposal = gateway.network("ch1").contract("cc").new_proposal("Grant", ["x"])
    with pytest.raises(NotAuthorized) as info:
        proposal.endorse()
    err = info.value
    assert isinstance(err, EndorseError)
    assert isinstance(err, ChaincodeRefusal)
    assert (err.code, err.reason) == ("NOT_AUTHORIZED", "only the patient may grant")
    assert err.transaction_id == proposal.transaction_id
    assert (err.grpc_status, err.details[0].msp_id) == ("ABORTED", "Org1MSP")


@pytest.mark.parametrize(
    ("message", "kind", "reason"),
    [
        ("chaincode response 400, NOT_FOUND: no record", NotFound, "no record"),
        ("chaincode response 400, CONFLICT: exists: use AddRecordVersion", Conflict, "exists: use AddRecordVersion"),
        (
            "chaincode response 500, INTERNAL: diag:Fail failed (RuntimeError)",
            ChaincodeFailed,
            "diag:Fail failed (RuntimeError)",
        ),
        ("INVALID_ARGUMENT: bad id", EndorseError, ""),  # not the chaincode's answer: not taken for one
        ("chaincode response 400, SOMETHING_ELSE: ?", EndorseError, ""),  # an unknown code stays plain
        ("plain failure", EndorseError, ""),
    ],
)
def test_a_refusal_is_recognised_once_into_its_type(message: str, kind: type[EndorseError], reason: str) -> None:
    with pytest.raises(EndorseError) as info:
        _refusing(message).network("ch1").contract("cc").new_proposal("F").endorse()
    assert type(info.value) is kind
    assert getattr(info.value, "reason", "") == reason
    assert isinstance(info.value, NotFoundError) == (kind is NotFound)
