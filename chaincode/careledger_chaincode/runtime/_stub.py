"""The chaincode's view of one transaction: its inputs, the caller, and the ledger calls to the peer.

Ledger calls are synchronous: each sends one message on the stream and waits for the peer's answer.
When the peer offers them (Fabric 3.1+), reads of many keys go out as one GET_STATE_MULTIPLE and
writes are buffered and sent as WRITE_BATCH_STATE when the transaction ends, saving a round trip
per key. Reads never see the transaction's own writes (Fabric's semantics either way).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any

from fabric_protos.common import common_pb2
from fabric_protos.ledger.queryresult import kv_query_result_pb2
from fabric_protos.peer import (
    chaincode_pb2,
    chaincode_shim_pb2,
    proposal_pb2,
    proposal_response_pb2,
)

from ._identity import ClientIdentity
from ._interface import (
    MAX_UNICODE,
    KeyModification,
    OutOfRange,
    StubCommon,
    start_within,
)

__all__ = ["ChaincodeStub", "KeyModification", "OutOfRange", "PeerError", "PeerFeatures"]

Msg = chaincode_shim_pb2.ChaincodeMessage  # constructor and message-type constants
Message = Any  # the generated protobuf classes carry no static types
PeerCall = Callable[[int, bytes], bytes]

_MAX_UNICODE = MAX_UNICODE
# An empty start key would also match composite keys (they begin with \x00); Fabric's shims skip them.
_EMPTY_KEY_SUBSTITUTE = "\x01"
VALIDATION_PARAMETER = "VALIDATION_PARAMETER"


class PeerError(RuntimeError):
    """The peer answered a ledger call with ERROR (the message is the peer's own text)."""


@dataclass(frozen=True)
class PeerFeatures:
    """What the peer said it supports in its READY message."""

    write_batch: bool = False
    max_write_batch: int = 1000
    get_multiple: bool = False
    max_get_multiple: int = 1000


class ChaincodeStub(StubCommon):
    """The Stub of one transaction on the peer's stream: reads and writes are messages to the peer."""

    def __init__(self, message: Message, call: PeerCall, features: PeerFeatures) -> None:
        self._call = call
        self._features = features
        self.tx_id: str = message.txid
        self.channel_id: str = message.channel_id
        cc_input = chaincode_pb2.ChaincodeInput()
        cc_input.ParseFromString(message.payload)
        self.args: list[bytes] = list(cc_input.args)
        self.signed_proposal = message.proposal
        self._writes: list[chaincode_shim_pb2.WriteRecord] = []
        # The peer answers every read of a transaction from the same committed state (a transaction
        # never reads its own writes), so a key read once is not asked for again.
        self._reads: dict[tuple[str, str], bytes | None] = {}
        self.transient: dict[str, bytes] = {}
        self.timestamp = datetime.datetime.fromtimestamp(0, datetime.UTC)
        self.creator = b""
        if message.proposal.proposal_bytes:
            self._parse_proposal(message.proposal.proposal_bytes)
        self._identity: ClientIdentity | None = None

    def _parse_proposal(self, proposal_bytes: bytes) -> None:
        proposal = proposal_pb2.Proposal()
        proposal.ParseFromString(proposal_bytes)
        header = common_pb2.Header()
        header.ParseFromString(proposal.header)
        channel_header = common_pb2.ChannelHeader()
        channel_header.ParseFromString(header.channel_header)
        signature_header = common_pb2.SignatureHeader()
        signature_header.ParseFromString(header.signature_header)
        self.creator = signature_header.creator
        ts = channel_header.timestamp
        self.timestamp = datetime.datetime.fromtimestamp(ts.seconds + ts.nanos / 1e9, datetime.UTC)
        payload = proposal_pb2.ChaincodeProposalPayload()
        payload.ParseFromString(proposal.payload)
        self.transient = dict(payload.TransientMap)

    # -- inputs ----------------------------------------------------------------------------------------
    @staticmethod
    def local_time() -> datetime.datetime:
        """This endorsing peer's chaincode server clock: only to refuse proposals whose client-chosen
        timestamp is far from it, never written (endorsers' clocks differ)."""
        return datetime.datetime.now(datetime.UTC)

    @property
    def identity(self) -> ClientIdentity:
        if self._identity is None:
            self._identity = ClientIdentity.from_creator(self.creator)
        return self._identity

    # -- world state -----------------------------------------------------------------------------------
    def get_state(self, key: str, collection: str = "") -> bytes | None:
        if (collection, key) in self._reads:
            return self._reads[collection, key]
        reply = self._call(
            Msg.GET_STATE, chaincode_shim_pb2.GetState(key=key, collection=collection).SerializeToString()
        )
        self._reads[collection, key] = reply or None
        return reply or None

    def get_states(self, keys: list[str], collection: str = "") -> list[bytes | None]:
        """Read many keys; one round trip per `max_get_multiple` keys not read before, when the peer
        supports it. Contracts call it early with every key they will need (a prefetch)."""
        missing = [k for k in dict.fromkeys(keys) if (collection, k) not in self._reads]
        if not self._features.get_multiple:
            for k in missing:
                self.get_state(k, collection)
        else:
            step = max(1, self._features.max_get_multiple)
            for i in range(0, len(missing), step):
                chunk = missing[i : i + step]
                request = chaincode_shim_pb2.GetStateMultiple(keys=chunk, collection=collection)
                result = chaincode_shim_pb2.GetStateMultipleResult()
                result.ParseFromString(self._call(Msg.GET_STATE_MULTIPLE, request.SerializeToString()))
                for k, v in zip(chunk, result.values, strict=True):
                    self._reads[collection, k] = v or None
        return [self._reads[collection, k] for k in keys]

    def put_state(self, key: str, value: bytes, collection: str = "") -> None:
        _check_key(key)
        if not isinstance(value, bytes | bytearray):
            raise TypeError("put_state needs bytes")
        self._write(
            _Write(key=key, value=bytes(value), collection=collection, type=_Write.PUT_STATE),
            Msg.PUT_STATE,
            chaincode_shim_pb2.PutState(key=key, value=bytes(value), collection=collection),
        )

    def del_state(self, key: str, collection: str = "") -> None:
        _check_key(key)
        self._write(
            _Write(key=key, collection=collection, type=_Write.DEL_STATE),
            Msg.DEL_STATE,
            chaincode_shim_pb2.DelState(key=key, collection=collection),
        )

    def get_state_by_range(self, start_key: str, end_key: str, collection: str = "") -> Iterator[tuple[str, bytes]]:
        """Simple keys in [start_key, end_key); composite keys are never returned."""
        request = chaincode_shim_pb2.GetStateByRange(
            startKey=start_key or _EMPTY_KEY_SUBSTITUTE, endKey=end_key, collection=collection
        )
        yield from self._kv_iterator(self._call(Msg.GET_STATE_BY_RANGE, request.SerializeToString()))

    def get_state_by_partial_composite_key(
        self, object_type: str, attributes: list[str], start_key: str = "", collection: str = ""
    ) -> Generator[tuple[str, bytes], None, None]:
        """Every key under the prefix, in key order; from `start_key` (a key under the prefix) when given.

        Close the iterator when stopping early: that frees the peer's iterator at once."""
        prefix = self.create_composite_key(object_type, attributes)
        start = start_within(prefix, start_key)
        request = chaincode_shim_pb2.GetStateByRange(
            startKey=start, endKey=prefix + _MAX_UNICODE, collection=collection
        )
        yield from self._kv_iterator(self._call(Msg.GET_STATE_BY_RANGE, request.SerializeToString()))

    def get_state_by_partial_composite_key_paginated(
        self, object_type: str, attributes: list[str], page_size: int, bookmark: str
    ) -> tuple[list[tuple[str, bytes]], str]:
        """One page of a composite-key range and the bookmark of the next (empty when done).

        The bookmark must lie under the prefix (OutOfRange otherwise), whatever bytes a caller passed."""
        start = self.create_composite_key(object_type, attributes)
        bookmark = start_within(start, bookmark) if bookmark else ""
        metadata = chaincode_shim_pb2.QueryMetadata(pageSize=page_size, bookmark=bookmark).SerializeToString()
        request = chaincode_shim_pb2.GetStateByRange(startKey=start, endKey=start + _MAX_UNICODE, metadata=metadata)
        response = chaincode_shim_pb2.QueryResponse()
        response.ParseFromString(self._call(Msg.GET_STATE_BY_RANGE, request.SerializeToString()))
        rows = list(self._kv_iterator(response.SerializeToString()))
        meta = chaincode_shim_pb2.QueryResponseMetadata()
        meta.ParseFromString(response.metadata)
        return rows, meta.bookmark if meta.fetched_records_count >= page_size else ""

    def get_history_for_key(self, key: str) -> Iterator[KeyModification]:
        reply = self._call(Msg.GET_HISTORY_FOR_KEY, chaincode_shim_pb2.GetHistoryForKey(key=key).SerializeToString())
        for raw in self._results(reply):
            mod = kv_query_result_pb2.KeyModification()
            mod.ParseFromString(raw)
            ts = mod.timestamp
            yield KeyModification(
                tx_id=mod.tx_id,
                value=mod.value,
                timestamp=datetime.datetime.fromtimestamp(ts.seconds + ts.nanos / 1e9, datetime.UTC),
                is_delete=mod.is_delete,
            )

    # -- private data and key-level endorsement ----------------------------------------------------------
    def get_private_data(self, collection: str, key: str) -> bytes | None:
        _check_collection(collection)
        return self.get_state(key, collection)

    def put_private_data(self, collection: str, key: str, value: bytes) -> None:
        _check_collection(collection)
        self.put_state(key, value, collection)

    def del_private_data(self, collection: str, key: str) -> None:
        _check_collection(collection)
        self.del_state(key, collection)

    def purge_private_data(self, collection: str, key: str) -> None:
        """Remove a private value from every member peer's private store, history included (Fabric 2.5+);
        only its hash stays in the blocks. Erasure needs this: a delete keeps old values in history."""
        _check_collection(collection)
        _check_key(key)
        self._write(
            _Write(key=key, collection=collection, type=_Write.PURGE_PRIVATE_DATA),
            Msg.PURGE_PRIVATE_DATA,
            chaincode_shim_pb2.DelState(key=key, collection=collection),
        )

    def get_private_data_hash(self, collection: str, key: str) -> bytes | None:
        _check_collection(collection)
        request = chaincode_shim_pb2.GetState(key=key, collection=collection)
        return self._call(Msg.GET_PRIVATE_DATA_HASH, request.SerializeToString()) or None

    def get_state_validation_parameter(self, key: str, collection: str = "") -> bytes | None:
        request = chaincode_shim_pb2.GetStateMetadata(key=key, collection=collection)
        result = chaincode_shim_pb2.StateMetadataResult()
        result.ParseFromString(self._call(Msg.GET_STATE_METADATA, request.SerializeToString()))
        for entry in result.entries:
            if entry.metakey == VALIDATION_PARAMETER:
                return bytes(entry.value)
        return None

    def set_state_validation_parameter(self, key: str, policy: bytes, collection: str = "") -> None:
        _check_key(key)
        metadata = chaincode_shim_pb2.StateMetadata(metakey=VALIDATION_PARAMETER, value=policy)
        self._write(
            _Write(key=key, collection=collection, metadata=metadata, type=_Write.PUT_STATE_METADATA),
            Msg.PUT_STATE_METADATA,
            chaincode_shim_pb2.PutStateMetadata(key=key, collection=collection, metadata=metadata),
        )

    # -- calls to other chaincodes ------------------------------------------------------------------------
    def invoke_chaincode(self, name: str, args: list[bytes], channel: str = "") -> proposal_response_pb2.Response:
        target = f"{name}/{channel}" if channel else name
        spec = chaincode_pb2.ChaincodeSpec(
            chaincode_id=chaincode_pb2.ChaincodeID(name=target), input=chaincode_pb2.ChaincodeInput(args=args)
        )
        reply = Msg()
        reply.ParseFromString(self._call(Msg.INVOKE_CHAINCODE, spec.SerializeToString()))
        response = proposal_response_pb2.Response()
        if reply.type != Msg.COMPLETED:
            raise PeerError(f"invoking {target} failed: {reply.payload.decode(errors='replace')}")
        response.ParseFromString(reply.payload)
        return response

    # -- internals -------------------------------------------------------------------------------------
    def _write(self, record: chaincode_shim_pb2.WriteRecord, message_type: int, alone: Any) -> None:
        """Buffer a write for the batch sent once the function has returned, or, to a peer that takes no
        batches, send it alone now (`alone`: the single-write message)."""
        if self._features.write_batch:
            self._writes.append(record)
        else:
            self._call(message_type, alone.SerializeToString())

    def flush_writes(self) -> None:
        """Send buffered writes (called by the runtime once the function has returned successfully)."""
        step = max(1, self._features.max_write_batch)
        writes, self._writes = self._writes, []
        for i in range(0, len(writes), step):
            batch = chaincode_shim_pb2.WriteBatchState(rec=writes[i : i + step])
            self._call(Msg.WRITE_BATCH_STATE, batch.SerializeToString())

    def _results(self, reply: bytes) -> Iterator[bytes]:
        response = chaincode_shim_pb2.QueryResponse()
        response.ParseFromString(reply)
        try:
            while True:
                for result in response.results:
                    yield result.resultBytes
                if not response.has_more:
                    return
                nxt = chaincode_shim_pb2.QueryStateNext(id=response.id)
                response = chaincode_shim_pb2.QueryResponse()
                response.ParseFromString(self._call(Msg.QUERY_STATE_NEXT, nxt.SerializeToString()))
        finally:
            if response.has_more:  # the caller stopped early: free the peer's iterator
                self._call(
                    Msg.QUERY_STATE_CLOSE,
                    chaincode_shim_pb2.QueryStateClose(id=response.id).SerializeToString(),
                )

    def _kv_iterator(self, reply: bytes) -> Iterator[tuple[str, bytes]]:
        for raw in self._results(reply):
            kv = kv_query_result_pb2.KV()
            kv.ParseFromString(raw)
            yield kv.key, kv.value


_Write = chaincode_shim_pb2.WriteRecord


def _check_key(key: str) -> None:
    if not key:
        raise ValueError("key must not be empty")


def _check_collection(collection: str) -> None:
    if not collection:
        raise ValueError("collection must not be empty")
