"""Who a client is: an MSP id and the credentials (a PEM certificate) that the MSP recognises."""

from __future__ import annotations

from dataclasses import dataclass

from fabric_protos.msp import identities_pb2


@dataclass(frozen=True)
class Identity:
    msp_id: str
    credentials: bytes

    def serialized(self) -> bytes:
        """The SerializedIdentity that message headers carry as their creator."""
        return bytes(
            identities_pb2.SerializedIdentity(mspid=self.msp_id, id_bytes=self.credentials).SerializeToString()
        )
