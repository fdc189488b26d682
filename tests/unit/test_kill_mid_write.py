"""A wallet or record-store write killed with SIGKILL at a random moment leaves the old state or the new
one, never a broken file or a mix. A child process writes in a loop and reports each write it finished;
the parent kills it mid-loop, many times, and checks what is on disk."""

from __future__ import annotations

import hashlib
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from careledger import IdentityError, SigningIdentity, Wallet
from careledger._signing import new_private_key
from careledger._wallet import ScryptParams
from careledger_store import FileBlobStore
from cryptography.hazmat.primitives import serialization

from .local_tls import certificate_pem

KILLS = 12


def _kill_after_random_delay(script: str, *args: str, max_delay: float = 0.25) -> list[str]:
    """Run `script`, wait until it says it is ready, kill it with SIGKILL at a random moment; its lines."""
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script), *args], stdout=subprocess.PIPE, text=True, bufsize=1
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "ready"
    time.sleep(random.uniform(0.0, max_delay))
    child.send_signal(signal.SIGKILL)
    out, _ = child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL, "the writer finished before it was killed: raise its loop count"
    return out.split()


WALLET_WRITER = """
    import sys
    from pathlib import Path
    from careledger import Wallet
    from careledger._wallet import ScryptParams
    wallet, start = Wallet(Path(sys.argv[1]), kdf=ScryptParams(n=2**10)), int(sys.argv[2])  # cheap KDF: atomicity
    print("ready", flush=True)
    for n in range(start, start + 100000):
        wallet.set_passphrase("member", f"pass-{n + 1}".encode(), f"pass-{n}".encode())
        print(n + 1, flush=True)
"""


def test_a_killed_passphrase_change_leaves_the_old_or_the_new_entry(tmp_path: Path) -> None:
    wallet = Wallet(tmp_path / "wallet", kdf=ScryptParams(n=2**10))
    key = new_private_key()
    wallet.put("member", SigningIdentity("Org1MSP", certificate_pem(key), key), b"ca", passphrase=b"pass-0")
    encryption_key = new_private_key().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pass-0"),
    )
    wallet.put_encryption_key("member", encryption_key)
    current = 0
    for _ in range(KILLS):
        done = _kill_after_random_delay(WALLET_WRITER, str(wallet.root), str(current))
        last = int(done[-1]) if done else current
        # The write in flight when the kill came either took effect whole or not at all.
        opened = [n for n in (last, last + 1) if _opens(wallet, n)]
        assert len(opened) == 1, f"after the kill the entry opens with passphrases {opened} of {last}, {last + 1}"
        current = opened[0]
        assert wallet.labels() == ["member"]
    assert current > KILLS  # the loop did make progress between kills


def _opens(wallet: Wallet, n: int) -> bool:
    """The signing key and the encryption key both open with pass-n (a mix would open only one)."""
    passphrase = f"pass-{n}".encode()
    signing = encryption = True
    try:
        wallet.get("member", passphrase)
    except Exception:
        signing = False
    try:
        wallet.open_encryption_key("member", passphrase)
    except IdentityError:
        encryption = False
    assert signing == encryption, f"pass-{n} opens the signing key: {signing}, the encryption key: {encryption}"
    return signing


STORE_WRITER = """
    import os, sys
    from pathlib import Path
    from careledger_store import FileBlobStore
    store = FileBlobStore(Path(sys.argv[1]))
    print("ready", flush=True)
    for _ in range(100000):
        print(store.put(os.urandom(256 * 1024)), flush=True)
"""


def test_a_killed_blob_write_leaves_whole_blobs_only(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    acknowledged: list[str] = []
    for _ in range(KILLS):
        acknowledged += _kill_after_random_delay(STORE_WRITER, str(root))
    store = FileBlobStore(root)
    for address in acknowledged:  # every write the writer finished is there, whole
        assert hashlib.sha256(store.get(address)).hexdigest() == address
    blobs = [p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")]
    assert len(blobs) >= len(acknowledged)
    for blob in blobs:  # and nothing under a blob's name is partial
        assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.name
    assert len(acknowledged) > KILLS
