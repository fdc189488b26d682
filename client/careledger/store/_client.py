"""Client of a hospital's record store: every request signed with the caller's identity."""

from __future__ import annotations

import hashlib
import http.client
import json
import ssl
import threading
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

from careledger_protocol import NOT_ON_LEDGER

from .._signing import SigningIdentity
from ..errors import CareLedgerError
from ._signing import sign_request


class StoreError(CareLedgerError):
    """The store refused or failed; `status` and `code` say how (e.g. 403 NOT_AUTHORIZED)."""

    def __init__(self, message: str, status: int, code: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


class NotOnLedger(StoreError):
    """The store refused an upload because the ledger does not name that ciphertext for that record: there
    is no such record (its CreateRecord never committed), it was erased, or that is not its current version.
    No retry can change that; the store says it with the code NOT_ON_LEDGER."""

    CODE = NOT_ON_LEDGER


@dataclass
class StoreClient:
    url: str  # https://host:port
    tls_root_pem: bytes
    identity: SigningIdentity
    timeout: float = 30.0
    _ssl: ssl.SSLContext = field(init=False, repr=False)
    # One kept-alive connection per thread: a TLS handshake per request cost the store a serial handshake
    # in its accept loop and both sides an ECDHE exchange and a certificate check.
    _local: threading.local = field(init=False, repr=False, default_factory=threading.local)

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme != "https" or not parts.hostname:
            raise ValueError(f"store url {self.url!r} must be https://host:port")
        self._host, self._port = parts.hostname, parts.port or 443
        self._ssl = ssl.create_default_context(cadata=self.tls_root_pem.decode())

    def _connection(self) -> http.client.HTTPSConnection:
        conn: http.client.HTTPSConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = http.client.HTTPSConnection(self._host, self._port, timeout=self.timeout, context=self._ssl)
            self._local.conn = conn
        return conn

    def _drop_connection(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            conn.close()

    def close(self) -> None:
        """Close this thread's connection (others close with their threads or on the server's idle timeout)."""
        self._drop_connection()

    def _exchange(self, method: str, path: str, body: bytes | bytearray) -> tuple[int, bytes]:
        headers = sign_request(self.identity, method, path, body)
        headers["Content-Length"] = str(len(body))
        conn = self._connection()
        try:
            conn.request(method, path, body=body, headers=headers)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLEOFError) as send_error:
            resp = _early_answer(conn, body, send_error)
        else:
            resp = conn.getresponse()
        data = resp.read()
        if resp.will_close:
            self._drop_connection()
        return resp.status, data

    def _call(self, method: str, path: str, body: bytes | bytearray = b"") -> bytes:
        reused = getattr(self._local, "conn", None) is not None
        try:
            try:
                status, data = self._exchange(method, path, body)
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError, ssl.SSLEOFError):
                # The store closed a kept-alive connection (idle timeout, restart) before reading this
                # request; every store request is idempotent, so it is sent once more, freshly signed.
                self._drop_connection()
                if not reused:
                    raise
                status, data = self._exchange(method, path, body)
        except (OSError, http.client.HTTPException) as exc:
            self._drop_connection()
            raise StoreError(f"cannot reach the record store at {self.url}: {exc}", 0, "UNAVAILABLE") from exc
        if status >= 400:
            try:
                doc = json.loads(data)
            except ValueError:
                doc = {"error": "ERROR", "message": data[:200].decode(errors="replace")}
            code = str(doc.get("error"))
            kind = NotOnLedger if code == NotOnLedger.CODE else StoreError  # the one place a code becomes a type
            raise kind(f"record store refused: {doc.get('message')}", status, code)
        return data

    def put(self, blob: bytes | bytearray, record_id: str) -> str:
        address = hashlib.sha256(blob).hexdigest()
        self._call("PUT", f"/blobs/{address}?record_id={quote(record_id)}", blob)
        return address

    def get(self, address: str, record_id: str, access_tx: str) -> bytes:
        blob = self._call("GET", f"/blobs/{address}?record_id={quote(record_id)}&access_tx={quote(access_tx)}")
        if hashlib.sha256(blob).hexdigest() != address:
            raise StoreError(f"the store returned a blob whose SHA-256 is not {address}", 200, "INTEGRITY")
        return blob

    def get_many(self, records: dict[str, str | None], access_tx: str) -> dict[str, bytes | StoreError]:
        """Many blobs of one access transaction in one request: {record_id: blob, or the store's refusal}.

        `records` maps each record to the SHA-256 of the ciphertext wanted, or None for the current one
        as the ledger names it (check the blob against the ledger yourself then)."""
        body = json.dumps({"records": records}, sort_keys=True).encode()
        data = self._call("POST", f"/blobs:fetch?access_tx={quote(access_tx)}", body)
        header_length = int.from_bytes(data[:4], "big")
        index = json.loads(data[4 : 4 + header_length])
        out: dict[str, bytes | StoreError] = {}
        offset = 4 + header_length
        for entry in index:
            blob = data[offset : offset + entry["size"]]
            offset += entry["size"]
            if not entry["granted"]:
                out[entry["record_id"]] = StoreError(f"record store refused: {entry['reason']}", 403, "NOT_AUTHORIZED")
            elif hashlib.sha256(blob).hexdigest() != entry["address"]:
                out[entry["record_id"]] = StoreError(
                    "the store returned a blob whose SHA-256 differs", 200, "INTEGRITY"
                )
            else:
                out[entry["record_id"]] = blob
        return out

    def delete(self, address: str, record_id: str) -> bool:
        return bool(json.loads(self._call("DELETE", f"/blobs/{address}?record_id={quote(record_id)}"))["deleted"])


def _early_answer(
    conn: http.client.HTTPSConnection, body: bytes | bytearray, send_error: OSError
) -> http.client.HTTPResponse:
    """The store answers a refused upload before it takes the body, and then stops reading: the rest of the
    body cannot be sent, but the answer is there to be read. Without one, the send error stands (and a
    kept-alive connection the store had closed is retried by the caller)."""
    if body:
        try:
            return conn.getresponse()
        except (OSError, http.client.HTTPException):
            pass
    raise send_error
