"""Building the messages of the Fabric protocol that a client signs: proposals and seek envelopes."""

from __future__ import annotations

import hashlib
import os
import time

from fabric_protos.common import common_pb2
from fabric_protos.orderer import ab_pb2
from fabric_protos.peer import chaincode_pb2, proposal_pb2


def new_transaction_id(creator: bytes) -> tuple[str, bytes]:
    """A fresh (transaction id, nonce): the id is SHA-256 over nonce + creator, as the peers check."""
    nonce = os.urandom(24)
    return hashlib.sha256(nonce + creator).hexdigest(), nonce


def _header(
    kind: int, channel: str, creator: bytes, tls_certificate_hash: bytes, extension: bytes = b""
) -> tuple[str, common_pb2.Header]:
    tx_id, nonce = new_transaction_id(creator)
    now = time.time_ns()
    channel_header = common_pb2.ChannelHeader(
        type=kind, channel_id=channel, tx_id=tx_id, extension=extension, tls_cert_hash=tls_certificate_hash
    )
    channel_header.timestamp.seconds = now // 1_000_000_000
    channel_header.timestamp.nanos = now % 1_000_000_000
    header = common_pb2.Header(
        channel_header=channel_header.SerializeToString(),
        signature_header=common_pb2.SignatureHeader(creator=creator, nonce=nonce).SerializeToString(),
    )
    return tx_id, header


def build_proposal(
    *,
    channel: str,
    chaincode: str,
    args: list[bytes],
    creator: bytes,
    transient: dict[str, bytes] | None = None,
    tls_certificate_hash: bytes = b"",
) -> tuple[str, bytes]:
    """Returns (transaction id, serialized Proposal)."""
    extension = proposal_pb2.ChaincodeHeaderExtension(chaincode_id=chaincode_pb2.ChaincodeID(name=chaincode))
    tx_id, header = _header(
        common_pb2.ENDORSER_TRANSACTION, channel, creator, tls_certificate_hash, extension.SerializeToString()
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


def seek_payload(
    *,
    channel: str,
    creator: bytes,
    start: ab_pb2.SeekPosition,
    stop: ab_pb2.SeekPosition | None = None,
    tls_certificate_hash: bytes = b"",
) -> bytes:
    """The payload of a Deliver request: blocks from `start` to `stop` (default: for ever), waiting for
    blocks not yet committed."""
    _, header = _header(common_pb2.DELIVER_SEEK_INFO, channel, creator, tls_certificate_hash)
    forever = ab_pb2.SeekPosition(specified=ab_pb2.SeekSpecified(number=2**64 - 1))
    seek = ab_pb2.SeekInfo(start=start, stop=stop or forever, behavior=ab_pb2.SeekInfo.BLOCK_UNTIL_READY)
    return bytes(common_pb2.Payload(header=header, data=seek.SerializeToString()).SerializeToString())


def start_position(start_block: int | None) -> ab_pb2.SeekPosition:
    """From a block number, or (None) from the next block committed."""
    if start_block is None:
        return ab_pb2.SeekPosition(next_commit=ab_pb2.SeekNextCommit())
    if start_block < 0:
        raise ValueError(f"a start block is a block number (0 or more), not {start_block}")
    return ab_pb2.SeekPosition(specified=ab_pb2.SeekSpecified(number=start_block))
