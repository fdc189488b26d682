"""Reading blocks from a peer's Deliver service, and checking an exported audit trail against them.

An auditor does not have to trust an export: every event names its transaction, and the ledger says
in which block that transaction is and whether it was VALID. The blocks' hash chain is recomputed
(header hash = SHA-256 of the DER of (number, previous hash, data hash); data hash = SHA-256 of the
block's transactions) and anchored at the peer's current chain head (qscc GetChainInfo).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import grpc
from fabric_protos.common import common_pb2, ledger_pb2
from fabric_protos.orderer import ab_pb2
from fabric_protos.peer import events_pb2_grpc, transaction_pb2

from .errors import GatewayError
from .gateway import Gateway, new_transaction_id


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _der_integer(n: int) -> bytes:
    body = n.to_bytes(max(1, (n.bit_length() + 8) // 8), "big")  # room for the sign bit
    return b"\x02" + _der_length(len(body)) + body


def _der_octets(data: bytes) -> bytes:
    return b"\x04" + _der_length(len(data)) + data


def header_hash(number: int, previous_hash: bytes, data_hash: bytes) -> bytes:
    """Fabric's block header hash (protoutil.BlockHeaderHash)."""
    content = _der_integer(number) + _der_octets(previous_hash) + _der_octets(data_hash)
    return hashlib.sha256(b"\x30" + _der_length(len(content)) + content).digest()


@dataclass(frozen=True)
class Transaction:
    tx_id: str
    validation_code: str
    header_type: str


@dataclass(frozen=True)
class Block:
    number: int
    previous_hash: bytes
    data_hash: bytes
    computed_data_hash: bytes
    transactions: tuple[Transaction, ...]

    @property
    def header_hash(self) -> bytes:
        return header_hash(self.number, self.previous_hash, self.data_hash)

    @classmethod
    def parse(cls, block: Any) -> Block:
        codes = bytes(block.metadata.metadata[common_pb2.TRANSACTIONS_FILTER]) if block.metadata.metadata else b""
        transactions = []
        for i, raw in enumerate(block.data.data):
            envelope = common_pb2.Envelope.FromString(raw)
            payload = common_pb2.Payload.FromString(envelope.payload)
            channel_header = common_pb2.ChannelHeader.FromString(payload.header.channel_header)
            code = transaction_pb2.TxValidationCode.Name(codes[i]) if i < len(codes) else "UNKNOWN"
            transactions.append(
                Transaction(channel_header.tx_id, code, common_pb2.HeaderType.Name(channel_header.type))
            )
        return cls(
            number=block.header.number,
            previous_hash=bytes(block.header.previous_hash),
            data_hash=bytes(block.header.data_hash),
            computed_data_hash=hashlib.sha256(b"".join(block.data.data)).digest(),
            transactions=tuple(transactions),
        )


class BlockReader:
    """Blocks of a channel from the peer the gateway is connected to (its Deliver service)."""

    def __init__(self, gateway: Gateway, channel: str) -> None:
        if gateway.grpc_channel is None:
            raise GatewayError("reading blocks needs a gateway connected over gRPC")
        self._gateway = gateway
        self._channel = channel
        self._deliver = events_pb2_grpc.DeliverStub(gateway.grpc_channel)

    def height(self) -> tuple[int, bytes]:
        """(number of blocks, hash of the newest block) as the peer reports it."""
        contract = self._gateway.network(self._channel).contract("qscc")
        info = ledger_pb2.BlockchainInfo.FromString(contract.evaluate_transaction("GetChainInfo", self._channel))
        return int(info.height), bytes(info.currentBlockHash)

    def _seek_envelope(self, start: int, stop: int) -> common_pb2.Envelope:
        tx_id, nonce = new_transaction_id(self._gateway.creator)
        channel_header = common_pb2.ChannelHeader(
            type=common_pb2.DELIVER_SEEK_INFO, channel_id=self._channel, tx_id=tx_id, epoch=0
        )
        channel_header.timestamp.seconds = int(time.time())
        seek = ab_pb2.SeekInfo(
            start=ab_pb2.SeekPosition(specified=ab_pb2.SeekSpecified(number=start)),
            stop=ab_pb2.SeekPosition(specified=ab_pb2.SeekSpecified(number=stop)),
            behavior=ab_pb2.SeekInfo.BLOCK_UNTIL_READY,
        )
        payload = common_pb2.Payload(
            header=common_pb2.Header(
                channel_header=channel_header.SerializeToString(),
                signature_header=common_pb2.SignatureHeader(
                    creator=self._gateway.creator, nonce=nonce
                ).SerializeToString(),
            ),
            data=seek.SerializeToString(),
        ).SerializeToString()
        return common_pb2.Envelope(payload=payload, signature=self._gateway.sign(payload))

    def blocks(self, start: int, stop: int, timeout: float = 60.0) -> Iterator[Block]:
        """Blocks start..stop inclusive, in order."""
        try:
            for response in self._deliver.Deliver(iter([self._seek_envelope(start, stop)]), timeout=timeout):
                kind = response.WhichOneof("Type")
                if kind == "block":
                    yield Block.parse(response.block)
                elif kind == "status":
                    if response.status != common_pb2.SUCCESS:
                        raise GatewayError(f"deliver refused: {common_pb2.Status.Name(response.status)}")
                    return
        except grpc.RpcError as exc:
            raise GatewayError(f"reading blocks failed: {exc.code().name}: {exc.details()}") from exc


@dataclass
class TrailReport:
    """What checking an exported trail against the ledger found."""

    blocks_checked: int = 0
    head_matches: bool = False
    chain_breaks: list[str] = field(default_factory=list)
    events_checked: int = 0
    missing: list[str] = field(default_factory=list)  # transaction ids not on the ledger
    invalid: list[str] = field(default_factory=list)  # transaction ids committed but not VALID

    @property
    def ok(self) -> bool:
        return self.head_matches and not (self.chain_breaks or self.missing or self.invalid)


def verify_trail(reader: BlockReader, tx_ids: Iterable[str]) -> TrailReport:
    """Check that every transaction of an exported trail (the `tx_id` of its audit events) committed VALID
    on the whole chain, and the chain against the peer's head."""
    report = TrailReport()
    height, head = reader.height()
    committed: dict[str, str] = {}
    previous: Block | None = None
    for block in reader.blocks(0, height - 1):
        report.blocks_checked += 1
        if block.computed_data_hash != block.data_hash:
            report.chain_breaks.append(f"block {block.number}: its transactions do not match its data hash")
        if previous is not None and block.previous_hash != previous.header_hash:
            report.chain_breaks.append(f"block {block.number}: previous hash does not match block {previous.number}")
        for tx in block.transactions:
            committed[tx.tx_id] = tx.validation_code
        previous = block
    report.head_matches = previous is not None and previous.header_hash == head
    for tx_id in tx_ids:
        report.events_checked += 1
        code = committed.get(tx_id)
        if code is None:
            report.missing.append(tx_id)
        elif code != "VALID":
            report.invalid.append(tx_id)
    return report
