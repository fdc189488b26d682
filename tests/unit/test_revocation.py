"""The channel config update that publishes a CRL: only the org's MSP value changes, its version goes up by
one, and a newer CRL of the same CA replaces the older one."""

from __future__ import annotations

import datetime

import pytest
from careledger_network.revocation import RevocationError, msp_revocation_update, org_msp, revoked_serials
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from fabric_protos.common import common_pb2, configtx_pb2
from fabric_protos.msp import msp_config_pb2

NOW = datetime.datetime(2026, 11, 23, tzinfo=datetime.UTC)
CA_KEY = ec.generate_private_key(ec.SECP256R1())
CA_NAME = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ca-hospital1")])


def _crl(*serials: int, key: ec.EllipticCurvePrivateKey = CA_KEY, aki: bool = True) -> bytes:
    builder = x509.CertificateRevocationListBuilder().issuer_name(CA_NAME).last_update(NOW).next_update(NOW)
    for serial in serials:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(NOW).build()
        )
    if aki:
        builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), False)
    return builder.sign(key, hashes.SHA256()).public_bytes(Encoding.PEM)


def _config(revocation_list: tuple[bytes, ...] = ()) -> configtx_pb2.Config:
    config = configtx_pb2.Config(sequence=4)
    config.channel_group.version = 2
    application = config.channel_group.groups["Application"]
    application.version = 3
    for name in ("Hospital1", "Hospital2"):
        fabric_msp = msp_config_pb2.FabricMSPConfig(name=f"{name}MSP", revocation_list=list(revocation_list))
        msp = msp_config_pb2.MSPConfig(type=0, config=fabric_msp.SerializeToString())
        org = application.groups[name]
        org.version = 1
        org.values["MSP"].CopyFrom(
            configtx_pb2.ConfigValue(version=5, mod_policy="Admins", value=msp.SerializeToString())
        )
    return config


def _update(envelope: bytes) -> configtx_pb2.ConfigUpdate:
    payload = common_pb2.Payload.FromString(common_pb2.Envelope.FromString(envelope).payload)
    header = common_pb2.ChannelHeader.FromString(payload.header.channel_header)
    assert header.type == common_pb2.HeaderType.CONFIG_UPDATE
    assert header.channel_id == "careledger"
    return configtx_pb2.ConfigUpdate.FromString(
        configtx_pb2.ConfigUpdateEnvelope.FromString(payload.data).config_update
    )


def _apply(config: configtx_pb2.Config, update: configtx_pb2.ConfigUpdate) -> configtx_pb2.Config:
    new = configtx_pb2.Config()
    new.CopyFrom(config)
    value = update.write_set.groups["Application"].groups["Hospital1"].values["MSP"]
    new.channel_group.groups["Application"].groups["Hospital1"].values["MSP"].CopyFrom(value)
    return new


def test_only_the_msp_value_changes_with_its_version_bumped() -> None:
    config = _config()
    update = _update(msp_revocation_update(config, "careledger", "Hospital1MSP", _crl(7, 9)))
    assert update.channel_id == "careledger"
    for group_set in (update.read_set, update.write_set):
        assert (group_set.version, group_set.groups["Application"].version) == (2, 3)
        assert list(group_set.groups["Application"].groups) == ["Hospital1"]
        assert group_set.groups["Application"].groups["Hospital1"].version == 1
    assert not update.read_set.groups["Application"].groups["Hospital1"].values
    written = update.write_set.groups["Application"].groups["Hospital1"].values["MSP"]
    assert (written.version, written.mod_policy) == (6, "Admins")
    assert revoked_serials(_apply(config, update), "Hospital1MSP") == {7, 9}
    assert revoked_serials(_apply(config, update), "Hospital2MSP") == set()


def test_a_newer_crl_of_the_same_ca_replaces_the_older_and_others_are_kept() -> None:
    other_ca = ec.generate_private_key(ec.SECP256R1())
    config = _config((_crl(7), _crl(100, key=other_ca)))
    update = _update(msp_revocation_update(config, "careledger", "Hospital1MSP", _crl(7, 8)))
    _, _, group = org_msp(_apply(config, update), "Hospital1MSP")
    fabric_msp = msp_config_pb2.FabricMSPConfig.FromString(
        msp_config_pb2.MSPConfig.FromString(group.values["MSP"].value).config
    )
    assert len(fabric_msp.revocation_list) == 2
    assert revoked_serials(_apply(config, update), "Hospital1MSP") == {7, 8, 100}


@pytest.mark.parametrize(
    ("msp_id", "crl", "message"),
    [
        ("UnknownMSP", _crl(1), "UnknownMSP is not an organization"),
        ("Hospital1MSP", b"not a crl", "not a PEM CRL"),
        ("Hospital1MSP", _crl(1, aki=False), "no authority key identifier"),
    ],
)
def test_bad_input_is_refused_with_the_reason(msp_id: str, crl: bytes, message: str) -> None:
    with pytest.raises(RevocationError, match=message):
        msp_revocation_update(_config(), "careledger", msp_id, crl)


def test_an_organization_that_also_orders_gets_the_crl_in_both_of_its_definitions() -> None:
    """Under BFT a hospital is in the Orderer section too; Fabric refuses two different versions of one MSP."""
    config = _config()
    orderer = config.channel_group.groups["Orderer"]
    orderer.version = 7
    orderer.groups["Hospital1"].CopyFrom(config.channel_group.groups["Application"].groups["Hospital1"])
    orderer.groups["Hospital1"].version = 4
    crl = _crl(7)
    update = _update(msp_revocation_update(config, "careledger", "Hospital1MSP", crl))
    for section, version in (("Application", 3), ("Orderer", 7)):
        assert update.read_set.groups[section].version == version
        written = update.write_set.groups[section].groups["Hospital1"].values["MSP"]
        assert written.version == 6
        fabric_msp = msp_config_pb2.FabricMSPConfig.FromString(
            msp_config_pb2.MSPConfig.FromString(written.value).config
        )
        assert fabric_msp.revocation_list == [crl]
    assert update.write_set.groups["Orderer"].groups["Hospital1"].version == 4
    assert "Hospital2" not in update.write_set.groups["Orderer"].groups
