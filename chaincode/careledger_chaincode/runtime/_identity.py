"""The caller of a transaction, from the signed proposal's creator: MSP id, certificate, CA attributes."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property, lru_cache

from careledger_protocol import certificate_attributes
from cryptography import x509
from fabric_protos.msp import identities_pb2


@dataclass(frozen=True)
class ClientIdentity:
    msp_id: str
    certificate_pem: bytes
    attributes: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_creator(cls, creator: bytes) -> ClientIdentity:
        serialized = identities_pb2.SerializedIdentity()
        serialized.ParseFromString(creator)
        return cls.from_certificate(serialized.mspid, serialized.id_bytes)

    @classmethod
    def from_certificate(cls, msp_id: str, certificate_pem: bytes) -> ClientIdentity:
        return cls(
            msp_id=msp_id, certificate_pem=certificate_pem, attributes=dict(_certificate_attributes(certificate_pem))
        )

    @cached_property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.certificate_pem)

    @property
    def id(self) -> str:
        """Fabric's identity string: x509::<subject DN>::<issuer DN>."""
        cert = self.certificate
        return f"x509::{cert.subject.rfc4514_string()}::{cert.issuer.rfc4514_string()}"

    @property
    def enrollment_id(self) -> str:
        return self.attributes.get("hf.EnrollmentID", "")

    @property
    def node_type(self) -> str:
        """The identity type the CA gave it (client, peer, orderer, admin)."""
        return self.attributes.get("hf.Type", "")

    def attribute(self, name: str) -> str | None:
        return self.attributes.get(name)


@lru_cache(maxsize=4096)
def _certificate_attributes(certificate_pem: bytes) -> dict[str, str]:
    """Parsed once per certificate: the same few clients call again and again (callers get a copy)."""
    return certificate_attributes(x509.load_pem_x509_certificate(certificate_pem))
