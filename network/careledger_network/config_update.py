"""Signed channel configuration updates: a CONFIG_UPDATE envelope with the signatures its policies need.

An update that changes several organizations' shared settings needs the signatures of a majority of
the application organizations' admins (and, for channel-level policies, the orderer organization's
admin). The signatures travel inside the update envelope; the admin who finally sends it through
`peer channel update` adds its own.
"""

from __future__ import annotations

import os

from careledger import SigningIdentity
from fabric_protos.common import common_pb2, configtx_pb2
from fabric_protos.msp import identities_pb2


def _signature(update: bytes, signer: SigningIdentity) -> configtx_pb2.ConfigSignature:
    creator = identities_pb2.SerializedIdentity(mspid=signer.msp_id, id_bytes=signer.certificate_pem)
    header = common_pb2.SignatureHeader(creator=creator.SerializeToString(), nonce=os.urandom(24)).SerializeToString()
    return configtx_pb2.ConfigSignature(signature_header=header, signature=signer.sign(header + update))


def signed_update_envelope(update: bytes, channel: str, signers: list[SigningIdentity]) -> bytes:
    """An unsigned Envelope around a ConfigUpdate (bytes, as configtxlator computes it) signed by `signers`."""
    update_envelope = configtx_pb2.ConfigUpdateEnvelope(
        config_update=update, signatures=[_signature(update, s) for s in signers]
    )
    channel_header = common_pb2.ChannelHeader(type=common_pb2.HeaderType.CONFIG_UPDATE, channel_id=channel)
    payload = common_pb2.Payload(
        header=common_pb2.Header(channel_header=channel_header.SerializeToString()),
        data=update_envelope.SerializeToString(),
    )
    envelope: bytes = common_pb2.Envelope(payload=payload.SerializeToString()).SerializeToString()
    return envelope


def update_envelope(envelope: bytes) -> configtx_pb2.ConfigUpdateEnvelope:
    """The ConfigUpdateEnvelope (the update and its signatures) inside a CONFIG_UPDATE envelope."""
    payload = common_pb2.Payload.FromString(common_pb2.Envelope.FromString(envelope).payload)
    return configtx_pb2.ConfigUpdateEnvelope.FromString(payload.data)


def add_signature(envelope: bytes, signer: SigningIdentity) -> bytes:
    """The same CONFIG_UPDATE envelope with `signer`'s signature added: each organization's admin signs on
    its own host and passes the file on."""
    outer = common_pb2.Envelope.FromString(envelope)
    payload = common_pb2.Payload.FromString(outer.payload)
    update_envelope = configtx_pb2.ConfigUpdateEnvelope.FromString(payload.data)
    update_envelope.signatures.append(_signature(update_envelope.config_update, signer))
    payload.data = update_envelope.SerializeToString()
    signed: bytes = common_pb2.Envelope(payload=payload.SerializeToString()).SerializeToString()
    return signed


def signed_by(envelope: bytes, signer: SigningIdentity) -> bool:
    """Whether the update in `envelope` carries a signature by `signer`'s certificate already."""
    for signature in update_envelope(envelope).signatures:
        header = common_pb2.SignatureHeader.FromString(signature.signature_header)
        if identities_pb2.SerializedIdentity.FromString(header.creator).id_bytes == signer.certificate_pem:
            return True
    return False
