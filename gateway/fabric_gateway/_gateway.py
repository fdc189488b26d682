"""A connection to a Fabric Gateway peer as one identity: Gateway → Network → Contract → Proposal.

    channel = tls_channel("peer0.org1.example.com:7051", root_certificates=ca_pem)
    with Gateway.connect(Identity("Org1MSP", cert_pem), channel, sign=signers.for_private_key(key)) as gateway:
        contract = gateway.network("mychannel").contract("basic")
        result = contract.submit_transaction("CreateAsset", "asset1", "blue")

Without a signer, every stage offers `bytes` and `digest` to sign elsewhere (an HSM, another process), and
`new_signed_*` rebuilds the stage from those bytes and the signature.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TypedDict, Unpack

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from fabric_protos.common import common_pb2
from fabric_protos.gateway import gateway_pb2
from fabric_protos.peer import proposal_pb2

from . import hashes
from ._errors import EndorseError, GatewayError
from ._event_requests import BlockEventsRequest, ChaincodeEventsRequest
from ._identity import Identity
from ._network import Network
from ._transaction import Commit, Proposal, Transaction
from ._transport import Deadlines, GrpcTransport, Transport
from .hashes import Hash
from .signers import Sign

_GRPC_OPTIONS: list[tuple[str, object]] = [
    ("grpc.max_receive_message_length", 100 * 1024 * 1024),
    ("grpc.max_send_message_length", 100 * 1024 * 1024),
    ("grpc.keepalive_time_ms", 60_000),
]


class TLSOptions(TypedDict, total=False):
    """Mutual TLS (a client certificate and key, PEM) and the name the peer's certificate must carry."""

    client_certificate: bytes | None
    client_key: bytes | None
    server_name: str


def tls_channel(target: str, root_certificates: bytes, **tls: Unpack[TLSOptions]) -> grpc.Channel:
    """A TLS gRPC channel to a gateway peer (`host:port`, or a profile's `grpcs://host:port`), with a client
    certificate and key (PEM) for mutual TLS when the peer requires it."""
    address, credentials, options = channel_settings(target, root_certificates, tls)
    return grpc.secure_channel(address, credentials, options=options)


def channel_settings(
    target: str, root: bytes, tls: TLSOptions
) -> tuple[str, grpc.ChannelCredentials, list[tuple[str, object]]]:
    """(address, TLS credentials, options) of a channel to a gateway peer, for grpc and grpc.aio alike."""
    options = list(_GRPC_OPTIONS)
    if tls.get("server_name"):
        options.append(("grpc.ssl_target_name_override", tls["server_name"]))
    credentials = grpc.ssl_channel_credentials(root, tls.get("client_key"), tls.get("client_certificate"))
    return target.split("://", 1)[-1], credentials, options


def certificate_hash(certificate_pem: bytes) -> bytes:
    """The SHA-256 of a TLS client certificate's DER, as headers carry it when the peer uses mutual TLS."""
    der = x509.load_pem_x509_certificate(certificate_pem).public_bytes(serialization.Encoding.DER)
    return hashlib.sha256(der).digest()


class GatewayOptions(TypedDict, total=False):
    """How a gateway signs and waits (the keyword arguments of Gateway and Gateway.connect)."""

    sign: Sign | None  # digest -> signature; None: sign each step elsewhere
    hash: Hash  # message -> digest (hashes.SHA256 by default)
    tls_certificate_hash: bytes  # with mutual TLS: certificate_hash(client certificate)
    deadlines: Deadlines | None
    refine_endorse_error: Callable[[EndorseError], EndorseError] | None


class Gateway:
    def __init__(
        self,
        identity: Identity,
        transport: Transport,
        *,
        sign: Sign | None = None,
        hash: Hash = hashes.SHA256,
        tls_certificate_hash: bytes = b"",
        deadlines: Deadlines | None = None,
        refine_endorse_error: Callable[[EndorseError], EndorseError] | None = None,
        channel: grpc.Channel | None = None,
    ) -> None:
        """`refine_endorse_error` lets an application turn an EndorseError into its own subclass from what
        the peers said (its chaincode's error convention), in one place."""
        self.identity = identity
        self._creator = identity.serialized()
        self._transport = transport
        self._sign = sign
        self._hash = hash
        self._tls_certificate_hash = tls_certificate_hash
        self._deadlines = deadlines or Deadlines()
        self._refine = refine_endorse_error
        self._channel = channel

    @classmethod
    def connect(cls, identity: Identity, channel: grpc.Channel, **options: Unpack[GatewayOptions]) -> Gateway:
        """A gateway over a grpc channel (see tls_channel); closing the gateway closes the channel."""
        return cls(identity, GrpcTransport(channel), channel=channel, **options)

    # -- what the stages use ----------------------------------------------------------------------------------
    @property
    def creator(self) -> bytes:
        return self._creator

    @property
    def transport(self) -> Transport:
        return self._transport

    @property
    def hash(self) -> Hash:
        return self._hash

    @property
    def deadlines(self) -> Deadlines:
        return self._deadlines

    @property
    def tls_certificate_hash(self) -> bytes:
        return self._tls_certificate_hash

    @property
    def grpc_channel(self) -> grpc.Channel | None:
        """The gRPC channel to the peer (None for an injected transport)."""
        return self._channel

    def sign(self, message: bytes) -> bytes:
        if self._sign is None:
            raise GatewayError("this gateway has no signer: sign the step's digest elsewhere and use with_signature()")
        return self._sign(self._hash(message))

    def refine(self, error: EndorseError) -> EndorseError:
        return self._refine(error) if self._refine is not None else error

    def network(self, name: str) -> Network:
        return Network(self, name)

    # -- steps signed elsewhere -------------------------------------------------------------------------------
    def new_signed_proposal(self, data: bytes, signature: bytes) -> Proposal:
        """A Proposal from its `bytes` (a ProposedTransaction) and a signature of its digest."""
        proposed = gateway_pb2.ProposedTransaction.FromString(data)
        header = common_pb2.Header.FromString(proposal_pb2.Proposal.FromString(proposed.proposal.proposal_bytes).header)
        channel = common_pb2.ChannelHeader.FromString(header.channel_header).channel_id
        return Proposal(
            self.network(channel),
            proposed.transaction_id,
            bytes(proposed.proposal.proposal_bytes),
            list(proposed.endorsing_organizations),
            signature,
        )

    def new_signed_transaction(self, data: bytes, signature: bytes) -> Transaction:
        """A Transaction from its `bytes` (a PreparedTransaction) and a signature of its digest."""
        prepared = gateway_pb2.PreparedTransaction.FromString(data)
        header = common_pb2.Payload.FromString(prepared.envelope.payload).header
        channel = common_pb2.ChannelHeader.FromString(header.channel_header).channel_id
        envelope = common_pb2.Envelope(payload=prepared.envelope.payload, signature=signature)
        return Transaction(self.network(channel), prepared.transaction_id, envelope)

    def new_signed_commit(self, data: bytes, signature: bytes) -> Commit:
        """A Commit from its `bytes` (a SignedCommitStatusRequest) and a signature of its digest."""
        signed = gateway_pb2.SignedCommitStatusRequest.FromString(data)
        request = gateway_pb2.CommitStatusRequest.FromString(signed.request)
        return Commit(self.network(request.channel_id), request.transaction_id, signature, bytes(signed.request))

    def new_signed_chaincode_events_request(self, data: bytes, signature: bytes) -> ChaincodeEventsRequest:
        signed = gateway_pb2.SignedChaincodeEventsRequest.FromString(data)
        request = gateway_pb2.ChaincodeEventsRequest.FromString(signed.request)
        return ChaincodeEventsRequest(
            self.network(request.channel_id), request.chaincode_id, bytes(signed.request), signature
        )

    def new_signed_block_events_request(self, data: bytes, signature: bytes, kind: str = "block") -> BlockEventsRequest:
        envelope = common_pb2.Envelope.FromString(data)
        header = common_pb2.Payload.FromString(envelope.payload).header
        channel = common_pb2.ChannelHeader.FromString(header.channel_header).channel_id
        return BlockEventsRequest(self.network(channel), kind, bytes(envelope.payload), signature)

    # -- lifetime ---------------------------------------------------------------------------------------------
    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()

    def __enter__(self) -> Gateway:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
