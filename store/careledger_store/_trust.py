"""Whom the store trusts: each consortium organization's CA certificates, and the serials its CA revoked.

Two sources, given to `python -m careledger_store` one or the other:
- `--trust MSP=CA.pem` and `--crl MSP=CRL.pem` (StaticTrust): the organizations are fixed at start;
- `--trust-file FILE` (TrustFile): a JSON file, as careledger_network.specs.write_store_trust writes it,

      {"Hospital1MSP": {"ca": "/state/crypto/hospital1/ca/ca-cert.pem",
                        "crl": "/state/crypto/hospital1/msp/crls/crl.pem"}, ...}

  "crl" may be left out; a relative path is taken from the file's folder. The file is re-read while the
  store runs, so an organization that joins the consortium is trusted by the running stores within seconds
  of being written into it, and one taken out stops being trusted, without a restart.

The request checks (_auth.py) ask a `Trust` for both answers, whichever the source.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from cryptography import x509

from ._crl import REFRESH_SECONDS, CrlFiles, RevokedSerials, no_revocations

log = logging.getLogger("careledger_store")

# How often the trust file (and the CA files it names) is looked at: a stat each, on use, no thread. Short,
# so a joining organization's members are served within seconds; each organization's CRL keeps its own
# pace (REFRESH_SECONDS, as with --crl), except that a newly listed one is read at once.
TRUST_REFRESH_SECONDS = 5.0
_ENTRY_KEYS = frozenset({"ca", "crl"})
_HOW = (
    'it must be a JSON object {"<MSP id>": {"ca": "<CA certificate PEM>", "crl": "<CRL PEM, optional>"}, ...} '
    "naming every consortium organization; careledger-network writes it (stores/trust.json in its state folder)"
)


class Trust(Protocol):
    """What the request checks ask: the CA certificates of an MSP (empty: not an organization this store
    trusts) and the serials that MSP's CA revoked."""

    def cas(self, msp_id: str) -> Sequence[x509.Certificate]: ...

    def revoked(self, msp_id: str) -> frozenset[int]: ...


@dataclass(frozen=True)
class StaticTrust:
    """Trust fixed at start (`--trust`/`--crl`, and tests): the CAs given; revocations as `revoked_serials`
    says (a CrlFiles keeps them current)."""

    trusted_cas: Mapping[str, Sequence[x509.Certificate]]
    revoked_serials: RevokedSerials = no_revocations

    def cas(self, msp_id: str) -> Sequence[x509.Certificate]:
        return self.trusted_cas.get(msp_id, ())

    def revoked(self, msp_id: str) -> frozenset[int]:
        return self.revoked_serials(msp_id)


class TrustFileError(ValueError):
    """The trust file cannot be used at start; the message says what is wrong and what to do."""


@dataclass(frozen=True)
class TrustEntry:
    ca: Path
    crl: Path | None


def _path(value: Any, where: str, folder: Path) -> Path:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{where} must be a path (a non-empty string)")
    return folder / value  # an absolute value stays as it is


def read_trust_file(path: Path) -> dict[str, TrustEntry]:
    """The entries of a trust file. Raises OSError when it cannot be read, ValueError when it is damaged
    (the message names the problem and the MSP id, never more of the content)."""
    try:
        doc = json.loads(path.read_bytes())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not UTF-8 JSON") from None
    if not isinstance(doc, dict) or not doc:
        raise ValueError(f"{path} names no organization")
    entries = {}
    for msp_id, entry in doc.items():
        if not msp_id or msp_id != msp_id.strip():
            raise ValueError(f"{path} has an empty or space-padded MSP id")
        if not isinstance(entry, dict):
            raise ValueError(f'{path}: the entry of {msp_id} must be an object {{"ca": ..., "crl": ...}}')
        # A misspelt key ("crls") would silently drop the org's revocations: refused, not ignored.
        if unknown := sorted(set(entry) - _ENTRY_KEYS):
            raise ValueError(f"{path}: the entry of {msp_id} has unknown keys {unknown} (only 'ca' and 'crl')")
        crl = entry.get("crl")
        entries[msp_id] = TrustEntry(
            ca=_path(entry.get("ca"), f'{path}: "ca" of {msp_id}', path.parent),
            crl=None if crl is None else _path(crl, f'{path}: "crl" of {msp_id}', path.parent),
        )
    return entries


def _read_cas(msp_id: str, path: Path) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(path.read_bytes())
    except ValueError:
        raise ValueError(f"the CA file of {msp_id}, {path}, holds no PEM certificate") from None


def _problem(exc: OSError | ValueError) -> str:
    if isinstance(exc, OSError) and exc.filename is not None:  # e.g. "/x/ca.pem: No such file or directory"
        return f"{exc.filename}: {exc.strerror}"
    return str(exc)


_Stamp = tuple[int, int, int]  # inode, mtime (ns), size: a rename over the file changes the inode


def _stamp(path: Path) -> _Stamp:
    st = os.stat(path)
    return st.st_ino, st.st_mtime_ns, st.st_size


class TrustFile:
    """The trust of a `--trust-file`, re-read when the file, or a CA file it names, changed (inode, mtime or
    size), looked at on use at most every `interval` seconds (no thread, as CrlFiles). Each organization's
    CRL is read by a CrlFiles: a CRL file that does not exist yet means nothing revoked.

    All or nothing: a file that cannot be read or is damaged, or names a CA file that cannot be read, is
    logged (paths and counts) and the trust known before is kept, so a half-written or broken file never
    drops the consortium; at start it raises TrustFileError."""

    def __init__(
        self,
        path: Path,
        interval: float = TRUST_REFRESH_SECONDS,
        crl_interval: float = REFRESH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path, self.interval, self.clock = path, interval, clock
        self._cas: dict[str, list[x509.Certificate]] = {}
        self._crls = CrlFiles({}, {}, interval=crl_interval, clock=clock)
        self._entries: dict[str, TrustEntry] = {}
        self._stamps: tuple[_Stamp, tuple[_Stamp, ...]] | None = None
        self._problem = ""  # the last problem logged: a file broken for minutes is reported once
        self._lock = threading.Lock()
        self._next = clock() + interval
        try:
            self._reload_if_changed()
        except (OSError, ValueError) as exc:
            if isinstance(exc, FileNotFoundError) and Path(exc.filename or "") == path:
                raise TrustFileError(
                    f"the trust file {path} does not exist: write it first ({_HOW}), or give --trust/--crl instead"
                ) from None
            raise TrustFileError(
                f"the trust file {path} cannot be used: {_problem(exc)}. Fix or rewrite it: {_HOW}"
            ) from None

    def cas(self, msp_id: str) -> Sequence[x509.Certificate]:
        self._maybe_refresh()
        return self._cas.get(msp_id, ())

    def revoked(self, msp_id: str) -> frozenset[int]:
        self._maybe_refresh()
        return self._crls(msp_id)

    def msp_ids(self) -> frozenset[str]:
        return frozenset(self._cas)

    def _maybe_refresh(self) -> None:
        if self.clock() >= self._next and self._lock.acquire(blocking=False):
            try:  # one thread looks; the others go on with the trust known
                self.refresh()
            finally:
                self._lock.release()

    def refresh(self) -> None:
        self._next = self.clock() + self.interval
        try:
            self._reload_if_changed()
        except (OSError, ValueError) as exc:
            problem = _problem(exc)
            if problem != self._problem:
                self._problem = problem
                log.warning(
                    "trust file %s not taken (keeping the %d organizations trusted before): %s",
                    self.path,
                    len(self._cas),
                    problem,
                )

    def _reload_if_changed(self) -> None:
        file_stamp = _stamp(self.path)  # before reading: a change after it is seen at the next look
        same_file = self._stamps is not None and self._stamps[0] == file_stamp
        entries = self._entries if same_file else read_trust_file(self.path)
        stamps = (file_stamp, tuple(_stamp(entry.ca) for entry in entries.values()))
        if stamps == self._stamps:
            return
        cas = {msp_id: _read_cas(msp_id, entry.ca) for msp_id, entry in entries.items()}
        crls = {msp_id: entry.crl for msp_id, entry in entries.items() if entry.crl is not None}
        # The CRLs of newly trusted CAs are read before those CAs are trusted: no window without them.
        self._crls.update(crls, cas)
        before = set(self._cas)
        self._cas = cas  # one assignment: a request sees the old trust or the new one
        self._entries, self._stamps, self._problem = entries, stamps, ""
        added, removed = sorted(set(cas) - before), sorted(before - set(cas))
        log.info(
            "trust file %s: %d organizations trusted (added: %s; removed: %s)",
            self.path,
            len(cas),
            ", ".join(added) or "none",
            ", ".join(removed) or "none",
        )
