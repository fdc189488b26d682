"""Known devices: a browser that signed in to an account carries a signed cookie saying so.

The sign-in throttle (`_throttle.py`) holds such a browser only to its own small limit, so people who
guess at an account from elsewhere cannot lock its owner out of the browsers she already uses.

One cookie per account, named `<app>-device-<tag>` where the tag is an HMAC of the account under the
server's secret (the cookie store does not list who signed in on that computer). Its value is
`<payload>.<mac>`, both base64url: the payload is JSON {"a": tag, "d": device id, "t": issued (Unix time)},
the mac HMAC-SHA256 over the payload under the secret. Long-lived (180 days, renewed at each sign-in),
HttpOnly, Secure, SameSite=Strict. The secret must outlive the process (it is kept in a file the
serving command names), else every restart would forget every device.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path

from careledger import write_atomic

MAX_AGE = 180 * 24 * 3600


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_secret(path: Path) -> bytes:
    """The device secret kept in `path` (32 random bytes, created 0600 on first use)."""
    if not path.exists():
        # Written whole beside it, then linked into place: the link fails if another process got there
        # first, and then both use the file that won.
        staged = path.with_name(f".{path.name}.{secrets.token_hex(6)}")
        write_atomic(staged, secrets.token_bytes(32), mode=0o600)
        try:
            os.link(staged, path)
        except FileExistsError:
            pass
        finally:
            staged.unlink()
    secret = path.read_bytes()
    if len(secret) < 32:
        raise ValueError(f"{path} holds no usable known-device secret (32 bytes or more)")
    return secret


class KnownDevices:
    def __init__(self, secret: bytes, app_name: str, clock: Callable[[], float] = time.time) -> None:
        if len(secret) < 32:
            raise ValueError("the known-device secret must have at least 32 bytes")
        self._secret = secret
        self._prefix = f"{app_name}-device-"
        self.clock = clock  # wall time: the cookies outlive the process

    def _mac(self, purpose: bytes, data: bytes) -> bytes:
        return hmac.new(self._secret, b"careledger-known-device/1|" + purpose + b"|" + data, hashlib.sha256).digest()

    def _tag(self, account: str) -> str:
        return _b64(self._mac(b"account", account.encode())[:12])

    def cookie_name(self, account: str) -> str:
        return self._prefix + self._tag(account)

    def issue(self, account: str, device: str | None = None) -> tuple[str, str]:
        """(cookie name, value) for this browser and account; `device` keeps a known browser's id."""
        payload = json.dumps(
            {"a": self._tag(account), "d": device or secrets.token_urlsafe(16), "t": int(self.clock())}
        )
        encoded = _b64(payload.encode())
        return self.cookie_name(account), f"{encoded}.{_b64(self._mac(b'cookie', encoded.encode()))}"

    def verify(self, value: str | None, account: str) -> str | None:
        """The device id if `value` is a genuine, unexpired cookie of this account, else None."""
        if not value or len(value) > 512 or value.count(".") != 1:
            return None
        encoded, mac = value.split(".")
        try:
            if not hmac.compare_digest(mac, _b64(self._mac(b"cookie", encoded.encode()))):  # canonical form only
                return None
            doc = json.loads(_unb64(encoded))
        except (ValueError, binascii.Error):
            return None
        if not isinstance(doc, dict) or doc.get("a") != self._tag(account):
            return None
        issued, device = doc.get("t"), doc.get("d")
        if not isinstance(issued, int) or not isinstance(device, str) or not device:
            return None
        if not 0 <= self.clock() - issued < MAX_AGE:
            return None
        return device


def secret_for(config: dict[str, object]) -> bytes:
    """DEVICE_SECRET (bytes) or the file DEVICE_SECRET_FILE; else a per-process secret (known devices are
    then forgotten at restart: fine for tests, which is why the serving commands always name a file)."""
    given = config.get("DEVICE_SECRET")
    if isinstance(given, bytes):
        return given
    path = config.get("DEVICE_SECRET_FILE")
    if isinstance(path, str | os.PathLike):
        return load_secret(Path(path))
    return secrets.token_bytes(32)
