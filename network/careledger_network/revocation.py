"""Certificate revocation that the channel enforces.

Revoking at the CA alone stops new enrollments, but peers and orderers validate signers against the
channel's MSP definitions, not against the CA. So a revocation ends with a channel configuration
update that puts the CA's new CRL into the org's MSP (`FabricMSPConfig.revocation_list`), signed by
the org's admin (the MSP value's mod_policy is the org's Admins policy). Peers then refuse proposals
from the revoked certificate ("creator certificate is not valid ... revoked") and log each refusal.
"""

from __future__ import annotations

from cryptography import x509
from fabric_protos.common import common_pb2, configtx_pb2
from fabric_protos.msp import msp_config_pb2

from .config_update import signed_update_envelope

__all__ = [
    "RevocationError",
    "config_from_block",
    "msp_revocation_update",
    "org_msp",
    "org_msps",
    "revoked_serials",
]

_MSP_VALUE = "MSP"


class RevocationError(RuntimeError):
    """The CRL or the channel configuration is not what a revocation update needs."""


def config_from_block(block_bytes: bytes) -> tuple[int, configtx_pb2.Config]:
    """The block number and channel configuration carried by a config block."""
    block = common_pb2.Block.FromString(block_bytes)
    envelope = common_pb2.Envelope.FromString(block.data.data[0])
    payload = common_pb2.Payload.FromString(envelope.payload)
    header = common_pb2.ChannelHeader.FromString(payload.header.channel_header)
    if header.type != common_pb2.HeaderType.CONFIG:
        raise RevocationError(f"block {block.header.number} is not a config block (type {header.type})")
    return block.header.number, configtx_pb2.ConfigEnvelope.FromString(payload.data).config


def _authority_key_id(crl: x509.CertificateRevocationList) -> bytes:
    try:
        aki = crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    except x509.ExtensionNotFound:
        raise RevocationError("the CRL has no authority key identifier; Fabric MSPs ignore such CRLs") from None
    return aki.key_identifier or b""


def _load_crl(pem: bytes) -> x509.CertificateRevocationList:
    try:
        return x509.load_pem_x509_crl(pem)
    except ValueError as exc:
        raise RevocationError(f"not a PEM CRL: {exc}") from None


def revoked_serials(config: configtx_pb2.Config, msp_id: str) -> set[int]:
    """Serial numbers revoked by the CRLs in the channel's definition of an org's MSP."""
    _, _, group = org_msp(config, msp_id)
    return {entry.serial_number for pem in _msp_of(group).revocation_list for entry in _load_crl(pem)}


def _msp_of(group: configtx_pb2.ConfigGroup) -> msp_config_pb2.FabricMSPConfig:
    msp = msp_config_pb2.MSPConfig.FromString(group.values[_MSP_VALUE].value)
    return msp_config_pb2.FabricMSPConfig.FromString(msp.config)


def org_msp(config: configtx_pb2.Config, msp_id: str) -> tuple[str, str, configtx_pb2.ConfigGroup]:
    """(section, group name, group) of the org whose MSP is `msp_id` (groups are named by org, not MSP)."""
    found = org_msps(config, msp_id)
    if not found:
        raise RevocationError(f"{msp_id} is not an organization of this channel")
    return found[0]


def org_msps(config: configtx_pb2.Config, msp_id: str) -> list[tuple[str, str, configtx_pb2.ConfigGroup]]:
    """Every (section, group name, group) defining `msp_id`: an organization that both endorses and orders
    (BFT) is defined in the Application and the Orderer section, and both definitions must stay equal."""
    found = []
    for section in ("Application", "Orderer"):
        if section not in config.channel_group.groups:
            continue
        for name, group in config.channel_group.groups[section].groups.items():
            if _MSP_VALUE in group.values and _msp_of(group).name == msp_id:
                found.append((section, name, group))
    return found


def msp_revocation_update(config: configtx_pb2.Config, channel: str, msp_id: str, crl_pem: bytes) -> bytes:
    """An unsigned CONFIG_UPDATE envelope that replaces the CRL of one CA in an org's MSP definition, in every
    section that defines that MSP.

    The read set pins the versions of the groups on each path; the write set bumps only the MSP values,
    keeping their mod_policy, so the update needs exactly the org admins' signatures."""
    crl = _load_crl(crl_pem)
    aki = _authority_key_id(crl)
    definitions = org_msps(config, msp_id)
    if not definitions:
        raise RevocationError(f"{msp_id} is not an organization of this channel")

    def paths(bump: bool) -> configtx_pb2.ConfigGroup:
        channel_group = configtx_pb2.ConfigGroup(version=config.channel_group.version)
        for section, name, org_group in definitions:
            section_group = channel_group.groups[section]
            section_group.version = config.channel_group.groups[section].version
            org = section_group.groups[name]
            org.version = org_group.version
            if bump:
                current = org_group.values[_MSP_VALUE]
                org.values[_MSP_VALUE].CopyFrom(
                    configtx_pb2.ConfigValue(
                        version=current.version + 1,
                        mod_policy=current.mod_policy,
                        value=_with_crl(org_group, aki, crl_pem),
                    )
                )
        return channel_group

    update = configtx_pb2.ConfigUpdate(channel_id=channel, read_set=paths(False), write_set=paths(True))
    return signed_update_envelope(update.SerializeToString(), channel, [])  # the org admin signs it on sending


def _with_crl(org_group: configtx_pb2.ConfigGroup, aki: bytes, crl_pem: bytes) -> bytes:
    """The org's MSPConfig with `crl_pem` in place of that CA's older CRLs (a CA's newest CRL lists every
    certificate it revoked)."""
    msp = msp_config_pb2.MSPConfig.FromString(org_group.values[_MSP_VALUE].value)
    fabric_msp = _msp_of(org_group)
    kept = [pem for pem in fabric_msp.revocation_list if _authority_key_id(_load_crl(pem)) != aki]
    del fabric_msp.revocation_list[:]
    fabric_msp.revocation_list.extend([*kept, crl_pem])
    msp.config = fabric_msp.SerializeToString()
    result: bytes = msp.SerializeToString()
    return result
