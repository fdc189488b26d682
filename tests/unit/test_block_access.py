"""The block-reading policy's pieces that can be checked offline: the certifiers identifier Fabric's MSP
computes for a root CA (over the low-S form of its certificate) and the policy the update installs."""

from __future__ import annotations

import datetime
import hashlib

from careledger_network import block_access
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from fabric_protos.common import configtx_pb2, policies_pb2
from fabric_protos.msp import msp_principal_pb2
from fabric_protos.peer import configuration_pb2

ORDER = block_access._P256_ORDER


def _root(seed: int) -> bytes:
    key = ec.derive_private_key(seed, ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, f"ca-{seed}")])
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(seed)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def _roots(high_s: bool) -> bytes:
    for seed in range(1, 200):
        pem = _root(seed)
        _, s = decode_dss_signature(x509.load_pem_x509_certificate(pem).signature)
        if (s > ORDER // 2) == high_s:
            return pem
    raise AssertionError("no certificate of that kind in 200 tries")


def test_a_low_s_root_is_hashed_as_it_is() -> None:
    pem = _roots(high_s=False)
    der = x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)
    assert block_access.certifiers_identifier(pem) == hashlib.sha256(der).digest()


def test_a_high_s_root_is_hashed_in_its_low_s_form_which_still_verifies() -> None:
    pem = _roots(high_s=True)
    original = x509.load_pem_x509_certificate(pem)
    sanitized = x509.load_der_x509_certificate(block_access.low_s_certificate(pem))
    _, s = decode_dss_signature(sanitized.signature)
    assert s <= ORDER // 2
    assert sanitized.tbs_certificate_bytes == original.tbs_certificate_bytes
    key = original.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    key.verify(sanitized.signature, sanitized.tbs_certificate_bytes, ec.ECDSA(hashes.SHA256()))
    assert (
        block_access.certifiers_identifier(pem)
        != hashlib.sha256(original.public_bytes(serialization.Encoding.DER)).digest()
    )


def test_restrict_puts_readers_and_acls_in_place() -> None:
    config = configtx_pb2.Config()
    config.channel_group.groups["Application"].SetInParent()
    orgs = [
        block_access.Organization("Hospital1MSP", _roots(False)),
        block_access.Organization("Hospital2MSP", _roots(True)),
    ]
    assert not block_access.is_restricted(config)
    updated = block_access.restrict(config, orgs, "OrdererMSP")
    assert block_access.is_restricted(updated)
    acls = configuration_pb2.ACLs.FromString(updated.channel_group.groups["Application"].values["ACLs"].value)
    assert {r: a.policy_ref for r, a in acls.acls.items()} == dict.fromkeys(
        block_access.ACL_RESOURCES, "/Channel/Application/BlockReaders"
    )
    policy = updated.channel_group.groups["Application"].policies["BlockReaders"].policy
    envelope = policies_pb2.SignaturePolicyEnvelope.FromString(policy.value)
    assert envelope.rule.n_out_of.n == 1
    kinds = [p.principal_classification for p in envelope.identities]
    assert kinds.count(msp_principal_pb2.MSPPrincipal.ORGANIZATION_UNIT) == 2
    unit = msp_principal_pb2.OrganizationUnit.FromString(envelope.identities[2].principal)
    assert (unit.msp_identifier, unit.organizational_unit_identifier) == ("Hospital1MSP", "blockreader")
    readers = policies_pb2.SignaturePolicyEnvelope.FromString(updated.channel_group.policies["Readers"].policy.value)
    assert len(readers.identities) == len(envelope.identities) + 1  # and the orderer organization
    assert not config.channel_group.policies  # the original is left alone
