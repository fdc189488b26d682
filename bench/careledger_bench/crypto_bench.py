"""Envelope encryption (careledger.crypto.seal/open_blob) next to raw AES-256-GCM from `cryptography`."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from careledger.crypto import RecordRef, new_record_key, open_blob, seal
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


def _mb_per_s(fn: Callable[[], object], size: int, min_seconds: float = 1.0) -> float:
    fn()  # warm up
    done, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < min_seconds:
        fn()
        done += 1
    return done * size / elapsed / 1e6


def _measure(size: int) -> dict[str, float]:
    ref = RecordRef("rec-bench", "p-bench", 1)
    key = new_record_key()
    raw = AESGCM(key)
    data = os.urandom(size)
    nonce = os.urandom(12)
    blob = seal(data, key, ref)
    sealed_raw = raw.encrypt(nonce, data, None)
    enc = _mb_per_s(lambda: seal(data, key, ref), size)
    dec = _mb_per_s(lambda: open_blob(blob, key, ref), size)
    raw_enc = _mb_per_s(lambda: raw.encrypt(nonce, data, None), size)
    raw_dec = _mb_per_s(lambda: raw.decrypt(nonce, sealed_raw, None), size)
    return {
        "size": size,
        "envelope_encrypt_mb_s": round(enc, 1),
        "raw_encrypt_mb_s": round(raw_enc, 1),
        "encrypt_ratio": round(enc / raw_enc, 2),
        "envelope_decrypt_mb_s": round(dec, 1),
        "raw_decrypt_mb_s": round(raw_dec, 1),
        "decrypt_ratio": round(dec / raw_dec, 2),
    }


def rows() -> list[dict[str, float]]:
    return [_measure(size) for size in (4 * 1024, 1024 * 1024)]
