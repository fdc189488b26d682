"""Building the signed messages of the Fabric Gateway protocol."""

from __future__ import annotations

import hashlib
import os
import time

from fabric_protos.common import common_pb2
from fabric_protos.msp import identities_pb2
from fabric_protos.peer import chaincode_pb2, proposal_pb2


def serialized_identity(msp_id: str, certificate_pem: bytes) -> bytes:
    return bytes(identities_pb2.SerializedIdentity(mspid=msp_id, id_bytes=certificate_pem).SerializeToString())


def new_transaction_id(creator: bytes) -> tuple[str, bytes]:
    """A fresh (transaction id, nonce): the id is SHA-256 over nonce + creator, as the peers check."""
    nonce = os.urandom(24)
    return hashlib.sha256(nonce + creator).hexdigest(), nonce


def build_proposal(
    *,
    channel: str,
    chaincode: str,
    args: list[bytes],
    creator: bytes,
    transient: dict[str, bytes] | None = None,
) -> tuple[str, bytes]:
    """Returns (transaction id, serialized Proposal)."""
    tx_id, nonce = new_transaction_id(creator)
    now = time.time_ns()
    channel_header = common_pb2.ChannelHeader(
        type=common_pb2.ENDORSER_TRANSACTION,
        channel_id=channel,
        tx_id=tx_id,
        extension=proposal_pb2.ChaincodeHeaderExtension(
            chaincode_id=chaincode_pb2.ChaincodeID(name=chaincode)
        ).SerializeToString(),
    )
    channel_header.timestamp.seconds = now // 1_000_000_000
    channel_header.timestamp.nanos = now % 1_000_000_000
    header = common_pb2.Header(
        channel_header=channel_header.SerializeToString(),
        signature_header=common_pb2.SignatureHeader(creator=creator, nonce=nonce).SerializeToString(),
    )
    spec = chaincode_pb2.ChaincodeInvocationSpec(
        chaincode_spec=chaincode_pb2.ChaincodeSpec(
            type=chaincode_pb2.ChaincodeSpec.UNDEFINED,
            chaincode_id=chaincode_pb2.ChaincodeID(name=chaincode),
            input=chaincode_pb2.ChaincodeInput(args=args),
        )
    )
    payload = proposal_pb2.ChaincodeProposalPayload(input=spec.SerializeToString(), TransientMap=transient or {})
    proposal = proposal_pb2.Proposal(header=header.SerializeToString(), payload=payload.SerializeToString())
    return tx_id, proposal.SerializeToString()
