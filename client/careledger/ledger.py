"""Reading blocks from a peer's Deliver service, and checking an exported audit trail against them.

An auditor does not have to trust an export: every event names its transaction, and the ledger says
in which block that transaction is and whether it was VALID. The blocks' hash chain is recomputed
(header hash = SHA-256 of the DER of (number, previous hash, data hash); data hash = SHA-256 of the
block's transactions) and anchored at the peer's current chain head (qscc GetChainInfo).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from fabric_gateway import Gateway, GatewayError
from fabric_protos.common import common_pb2, ledger_pb2
from fabric_protos.peer import transaction_pb2


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
    """Blocks of a channel from the peer the gateway is connected to (fabric_gateway block events)."""

    def __init__(self, gateway: Gateway, channel: str) -> None:
        self._network = gateway.network(channel)

    def height(self) -> tuple[int, bytes]:
        """(number of blocks, hash of the newest block) as the peer reports it."""
        answer = self._network.contract("qscc").evaluate_transaction("GetChainInfo", self._network.name)
        info = ledger_pb2.BlockchainInfo.FromString(answer)
        return int(info.height), bytes(info.currentBlockHash)

    def blocks(self, start: int, stop: int, timeout: float = 60.0) -> Iterator[Block]:
        """Blocks start..stop inclusive, in order."""
        if stop < start:
            return
        with self._network.block_events(start_block=start, timeout=timeout) as stream:
            for block in stream:
                yield Block.parse(block)
                if block.header.number >= stop:
                    return
        raise GatewayError(f"the peer sent no block {stop} within {timeout:.0f} s: is it still syncing? Retry later")


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
