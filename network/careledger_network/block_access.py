"""Who may read raw blocks: the channel's BlockReaders policy and the ACLs and Readers policy that use it.

Every transaction's arguments, public write set and chaincode event are in the blocks, so whoever reads
blocks reads every patient's audit trail. By Fabric's defaults any channel member may (qscc block and
transaction queries, block and filtered-block delivery from peers, chaincode-event replay through the
gateway, block delivery from orderers). Here only these may:
- each application organization's peers and admins (policy roles);
- identities its CA issued with the organizational unit `blockreader`: auditors, and the organization's
  service identity that streams events to its apps (the portal filters them per signed-in patient);
- the orderer organization, and under BFT the orderers application organizations run (orderers replicate
  blocks between themselves).
Patients, clinicians and researchers still submit, get commit status, and read what chaincode
queries let them.

Fabric's policy language (configtx.yaml) names roles only, so the policies are built here as
signature policies with organizational-unit principals and put on the channel by a config update.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from fabric_protos.common import configtx_pb2, policies_pb2
from fabric_protos.msp import msp_principal_pb2
from fabric_protos.peer import configuration_pb2

BLOCK_READER_OU = "blockreader"
BLOCK_READERS = "BlockReaders"
BLOCK_READERS_PATH = f"/Channel/Application/{BLOCK_READERS}"
# The resources that hand out blocks, transactions or their events (core/aclmgmt/resources in Fabric).
ACL_RESOURCES = (
    "qscc/GetBlockByNumber",
    "qscc/GetBlockByHash",
    "qscc/GetTransactionByID",
    "qscc/GetBlockByTxID",
    "event/Block",
    "event/FilteredBlock",
    "gateway/ChaincodeEvents",
)
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_ROLE = msp_principal_pb2.MSPRole


@dataclass(frozen=True)
class Organization:
    msp_id: str
    ca_pem: bytes  # its root CA certificate


def _der_elements(der: bytes) -> list[bytes]:
    """The DER-encoded elements inside a SEQUENCE (each with its own tag and length)."""

    def length_at(i: int) -> tuple[int, int]:
        first = der[i]
        if first < 0x80:
            return first, i + 1
        count = first & 0x7F
        return int.from_bytes(der[i + 1 : i + 1 + count], "big"), i + 1 + count

    _, start = length_at(1)
    elements, i = [], start
    while i < len(der):
        size, body = length_at(i + 1)
        elements.append(der[i : body + size])
        i = body + size
    return elements


def _der_wrap(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + content


def low_s_certificate(ca_pem: bytes) -> bytes:
    """The DER Fabric's MSP keeps of a root CA certificate: the same certificate with its ECDSA signature in
    low-S form (the MSP re-encodes a high-S root when it loads it; the bytes below are what it hashes)."""
    cert = x509.load_pem_x509_certificate(ca_pem)
    der = cert.public_bytes(serialization.Encoding.DER)
    if not isinstance(cert.public_key(), ec.EllipticCurvePublicKey):
        return der
    r, s = decode_dss_signature(cert.signature)
    if s <= _P256_ORDER // 2:
        return der
    tbs, algorithm, _ = _der_elements(der)
    signature = _der_wrap(0x03, b"\x00" + encode_dss_signature(r, _P256_ORDER - s))
    return _der_wrap(0x30, tbs + algorithm + signature)


def certifiers_identifier(ca_pem: bytes) -> bytes:
    """What an organizational-unit principal names its certifiers by: SHA-256 over the identity's
    certificate chain without the identity itself, i.e. over the (sanitized) root CA certificate."""
    return hashlib.sha256(low_s_certificate(ca_pem)).digest()


def _role(msp_id: str, role: int) -> msp_principal_pb2.MSPPrincipal:
    principal = _ROLE(msp_identifier=msp_id, role=role)
    return msp_principal_pb2.MSPPrincipal(
        principal_classification=msp_principal_pb2.MSPPrincipal.ROLE, principal=principal.SerializeToString()
    )


def _block_reader_unit(org: Organization) -> msp_principal_pb2.MSPPrincipal:
    unit = msp_principal_pb2.OrganizationUnit(
        msp_identifier=org.msp_id,
        organizational_unit_identifier=BLOCK_READER_OU,
        certifiers_identifier=certifiers_identifier(org.ca_pem),
    )
    return msp_principal_pb2.MSPPrincipal(
        principal_classification=msp_principal_pb2.MSPPrincipal.ORGANIZATION_UNIT,
        principal=unit.SerializeToString(),
    )


def _any_of(principals: list[msp_principal_pb2.MSPPrincipal]) -> configtx_pb2.ConfigPolicy:
    envelope = policies_pb2.SignaturePolicyEnvelope(version=0, identities=principals)
    envelope.rule.n_out_of.n = 1
    for i in range(len(principals)):
        envelope.rule.n_out_of.rules.add(signed_by=i)
    policy = policies_pb2.Policy(type=policies_pb2.Policy.SIGNATURE, value=envelope.SerializeToString())
    return configtx_pb2.ConfigPolicy(policy=policy, mod_policy="Admins")


def block_readers(apps: list[Organization]) -> list[msp_principal_pb2.MSPPrincipal]:
    principals = []
    for org in apps:
        principals += [_role(org.msp_id, _ROLE.ADMIN), _role(org.msp_id, _ROLE.PEER), _block_reader_unit(org)]
    return principals


def restrict(
    config: configtx_pb2.Config, apps: list[Organization], orderer_msp: str, app_orderer_msps: list[str] | None = None
) -> configtx_pb2.Config:
    """A copy of the channel configuration with block reading restricted (see the module docstring).
    `app_orderer_msps`: application organizations that run orderers (BFT), whose orderers replicate blocks."""
    updated = configtx_pb2.Config()
    updated.CopyFrom(config)
    readers = block_readers(apps)
    application = updated.channel_group.groups["Application"]
    application.policies[BLOCK_READERS].CopyFrom(_any_of(readers))
    acls = configuration_pb2.ACLs()
    if "ACLs" in application.values:
        acls.ParseFromString(application.values["ACLs"].value)
    for resource in ACL_RESOURCES:
        acls.acls[resource].policy_ref = BLOCK_READERS_PATH
    application.values["ACLs"].CopyFrom(configtx_pb2.ConfigValue(value=acls.SerializeToString(), mod_policy="Admins"))
    # Orderers serve blocks to whoever satisfies /Channel/Readers: the block readers and the orderer org.
    channel_readers = [*readers, _role(orderer_msp, _ROLE.MEMBER)]
    # Only their orderers: every other member of an application org is a block reader or not by the above.
    channel_readers += [_role(msp_id, _ROLE.ORDERER) for msp_id in app_orderer_msps or ()]
    updated.channel_group.policies["Readers"].CopyFrom(_any_of(channel_readers))
    return updated


def is_restricted(config: configtx_pb2.Config) -> bool:
    application = config.channel_group.groups["Application"]
    if BLOCK_READERS not in application.policies or "ACLs" not in application.values:
        return False
    acls = configuration_pb2.ACLs.FromString(application.values["ACLs"].value)
    return all(acls.acls[r].policy_ref == BLOCK_READERS_PATH for r in ACL_RESOURCES if r in acls.acls) and all(
        r in acls.acls for r in ACL_RESOURCES
    )
