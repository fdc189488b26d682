"""What every signed message of the protocol shares: a digest for a signer elsewhere, a signature given
with `with_signature`, or made by the gateway's signer when the message is sent."""

from __future__ import annotations

import builtins
from typing import Self

from ._transport import Channel


class Signable:
    network: Channel
    signature: builtins.bytes

    def _message(self) -> builtins.bytes:
        """The bytes the signature covers."""
        raise NotImplementedError

    @property
    def digest(self) -> builtins.bytes:
        """What to sign elsewhere: the gateway's hash of the message."""
        return self.network.gateway.hash(self._message())

    def with_signature(self, signature: builtins.bytes) -> Self:
        self.signature = signature
        return self

    def _signed(self) -> builtins.bytes:
        """The signature, made now by the gateway's signer when none was given."""
        if not self.signature:
            self.signature = self.network.gateway.sign(self._message())
        return self.signature
