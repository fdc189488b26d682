"""Hash functions for signing, as Fabric's MSP accepts them: a function of the message to its digest.
NONE hands the message through unchanged, for signers that hash themselves (Ed25519, some HSMs)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

Hash = Callable[[bytes], bytes]  # message -> digest


def SHA256(message: bytes) -> bytes:
    return hashlib.sha256(message).digest()


def SHA384(message: bytes) -> bytes:
    return hashlib.sha384(message).digest()


def SHA3_256(message: bytes) -> bytes:
    return hashlib.sha3_256(message).digest()


def SHA3_384(message: bytes) -> bytes:
    return hashlib.sha3_384(message).digest()


def NONE(message: bytes) -> bytes:
    return message
