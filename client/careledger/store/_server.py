"""A hospital's record store over HTTPS.

    GET    /healthz
    PUT    /blobs/<sha256>?record_id=R     store a ciphertext (the custodian's clinicians; the record's patient)
    GET    /blobs/<sha256>?record_id=R&access_tx=T
                                           release it to the signer of the request iff the committed
                                           transaction T granted the signer record R (asked of the ledger)
    POST   /blobs:fetch?access_tx=T        body {"records": {record_id: sha256}}: the same for a batch, with
                                           one ledger question; the answer is a 4-byte length, a JSON index
                                           [{record_id, address, size, granted, reason}], then the blobs
    DELETE /blobs/<sha256>?record_id=R     after erasure on the ledger: destroy the ciphertext

Every request but /healthz is signed with the requester's Fabric identity (see _auth.py). Refusals are
JSON {"error": code, "message": text} with 400/401/403/404. Logs carry no blob content.
"""

from __future__ import annotations

import json
import logging
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography import x509

from ..errors import GatewayError
from ._auth import AuthError, Requester, verify_request
from ._blobs import BlobError, BlobNotFound, BlobStore, check_address

log = logging.getLogger("careledger.store")
MAX_BLOB = 100 * 1024 * 1024
HANDSHAKE_TIMEOUT = 10.0  # seconds a new connection has to complete TLS
# A client presents an access transaction as soon as its own peer committed it; this org's peer may be
# a block behind for a moment. The store asks again for up to this long before calling it unknown.
COMMIT_LAG_WAIT = 3.0
NOT_YET_COMMITTED = "no committed access transaction with this id"  # the chaincode's reason
IDLE_TIMEOUT = 60.0  # seconds a kept-alive connection may wait for its next request

# The ledger questions the store asks, with its own (custodian admin) identity.
LedgerQuery = Callable[..., dict[str, Any]]


@dataclass
class StoreConfig:
    org_msp: str
    blobs: BlobStore
    trusted_cas: dict[str, list[x509.Certificate]]
    evaluate: Callable[[str, list[str]], bytes]  # evaluate a healthcare-contract function on the ledger


class Refusal(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class _Handler(BaseHTTPRequestHandler):
    server_version = "careledger-store"
    protocol_version = "HTTP/1.1"  # keep-alive: a client may reuse its TLS connection
    config: StoreConfig  # set on the subclass by make_server

    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.address_string(), format % args)

    # -- plumbing ------------------------------------------------------------------------------------------
    def _reply(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        if self.close_connection:  # tell a keep-alive client not to send another request on this connection
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, doc: dict[str, Any]) -> None:
        self._reply(status, json.dumps(doc, sort_keys=True).encode())

    def _dispatch(self, method: str) -> None:
        self._who = "an unauthenticated caller"
        try:
            parts = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            if method == "GET" and parts.path == "/healthz":
                self._json(200, {"status": "OK"})
                return
            if method == "POST" and parts.path == "/blobs:fetch":
                body = self._body()
                self._fetch(query.get("access_tx", ""), body, self._authenticate(method, body))
                return
            if not parts.path.startswith("/blobs/"):
                raise Refusal(404, "NOT_FOUND", "no such endpoint; use /blobs/<sha256>")
            address = check_address(parts.path[len("/blobs/") :])
            body = self._body()
            requester = self._authenticate(method, body)
            record_id = query.get("record_id", "")
            if not record_id:
                raise Refusal(400, "INVALID_ARGUMENT", "give the record_id the blob belongs to")
            getattr(self, f"_{method.lower()}")(address, record_id, query, body, requester)
        except Refusal as exc:
            # The audit line of a refusal: who, what, why (ids and codes only, never content).
            log.warning(
                "refused %s %s for %s: %d %s: %s",
                method,
                self.path.split("?")[0],
                self._who,
                exc.status,
                exc.code,
                exc.message,
            )
            self.close_connection = True  # an unread body must not be taken for the next request
            self._json(exc.status, {"error": exc.code, "message": exc.message})
        except BlobNotFound as exc:
            self._json(404, {"error": "NOT_FOUND", "message": str(exc)})
        except BlobError as exc:
            self._json(400, {"error": "INVALID_ARGUMENT", "message": str(exc)})
        except GatewayError as exc:
            log.warning("ledger query failed: %s", type(exc).__name__)
            self._json(503, {"error": "LEDGER_UNAVAILABLE", "message": "the ledger could not be asked; retry"})

    def _authenticate(self, method: str, body: bytes) -> Requester:
        try:
            requester = verify_request(dict(self.headers.items()), method, self.path, body, self.config.trusted_cas)
        except AuthError as exc:
            raise Refusal(401, "NOT_AUTHENTICATED", str(exc)) from None
        self._who = f"{requester.member_id} of {requester.msp_id}"
        return requester

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BLOB:
            raise Refusal(400, "INVALID_ARGUMENT", f"blobs are at most {MAX_BLOB} bytes")
        return self.rfile.read(length) if length else b""

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # -- ledger questions ---------------------------------------------------------------------------------------
    def _ledger(self, function: str, *args: str) -> Any:
        try:
            return json.loads(self.config.evaluate(function, list(args)))
        except GatewayError as exc:
            code = getattr(exc, "chaincode_code", "")
            if code == "NOT_FOUND":
                raise Refusal(404, "NOT_FOUND", f"the ledger has no record {args[0]}") from None
            raise

    # -- operations -----------------------------------------------------------------------------------------------
    def _put(self, address: str, record_id: str, query: dict[str, str], body: bytes, who: Requester) -> None:
        if who.msp_id == self.config.org_msp and who.role == "clinician":
            pass
        elif who.role == "patient":
            record = self._ledger("GetRecord", record_id)
            if record["patient_id"] != who.member_id or record["custodian"] != self.config.org_msp:
                raise Refusal(403, "NOT_AUTHORIZED", "patients may store new versions only of their own records here")
        else:
            raise Refusal(
                403, "NOT_AUTHORIZED", f"only clinicians of {self.config.org_msp} (or the record's patient) store blobs"
            )
        stored = self.config.blobs.put(body)
        if stored != address:
            self.config.blobs.delete(stored)
            raise Refusal(400, "INVALID_ARGUMENT", "the body's SHA-256 is not the address it was sent to")
        self._json(201, {"address": address, "size": len(body)})

    def _get(self, address: str, record_id: str, query: dict[str, str], body: bytes, who: Requester) -> None:
        access_tx = query.get("access_tx", "")
        if not access_tx:
            raise Refusal(400, "INVALID_ARGUMENT", "give access_tx: the id of your committed RequestAccess transaction")
        verdict = ask_until_committed(
            lambda: self._ledger("VerifyAccess", access_tx, who.member_id, record_id),
            lambda v: v.get("reason") == NOT_YET_COMMITTED,
        )
        if not verdict.get("granted"):
            raise Refusal(403, "NOT_AUTHORIZED", f"the ledger does not show this access: {verdict.get('reason')}")
        if verdict.get("ciphertext_sha256") != address:
            raise Refusal(403, "NOT_AUTHORIZED", "that blob is not the current ciphertext of the record")
        self._reply(200, self.config.blobs.get(address), "application/octet-stream")

    def _fetch(self, access_tx: str, body: bytes, who: Requester) -> None:
        if not access_tx:
            raise Refusal(400, "INVALID_ARGUMENT", "give access_tx: the id of your committed RequestAccess transaction")
        try:
            wanted = json.loads(body)["records"]
            # null: "the record's current ciphertext", which the ledger names (the client checks the hash).
            addresses = {str(r): None if a is None else check_address(str(a)) for r, a in wanted.items()}
        except (ValueError, KeyError, TypeError, AttributeError, BlobError):
            raise Refusal(
                400, "INVALID_ARGUMENT", 'the body must be {"records": {record_id: sha256 or null}}'
            ) from None
        if not 1 <= len(addresses) <= 500:
            raise Refusal(400, "INVALID_ARGUMENT", "fetch 1 to 500 records at a time")
        verdicts = ask_until_committed(
            lambda: self._ledger("VerifyAccessBatch", access_tx, who.member_id, json.dumps(sorted(addresses))),
            lambda v: any(x.get("reason") == NOT_YET_COMMITTED for x in v["verdicts"].values()),
        )["verdicts"]
        index, blobs = [], []
        for record_id, asked in sorted(addresses.items()):
            verdict = verdicts[record_id]
            address = asked or verdict.get("ciphertext_sha256") or ""
            current = verdict.get("ciphertext_sha256") == address
            granted = bool(verdict.get("granted")) and current
            if granted:
                reason = "granted"
            elif verdict.get("granted"):
                reason = "that blob is not the current ciphertext of the record"
            else:
                reason = str(verdict.get("reason", ""))
            blob = b""
            if granted:
                try:
                    blob = self.config.blobs.get(address)
                except BlobNotFound:
                    granted, reason = False, "this store holds no such ciphertext"
            index.append(
                {"record_id": record_id, "address": address, "granted": granted, "reason": reason, "size": len(blob)}
            )
            blobs.append(blob)
        header = json.dumps(index, sort_keys=True).encode()
        self._reply(200, len(header).to_bytes(4, "big") + header + b"".join(blobs), "application/octet-stream")

    def _delete(self, address: str, record_id: str, query: dict[str, str], body: bytes, who: Requester) -> None:
        record = self._ledger("GetRecord", record_id)
        is_patient = who.role == "patient" and record["patient_id"] == who.member_id
        is_staff = who.msp_id == self.config.org_msp and who.role in ("clinician", "admin")
        if not (is_patient or is_staff):
            raise Refusal(403, "NOT_AUTHORIZED", "only the patient or the custodian's staff may destroy a ciphertext")
        if record["status"] != "erased":
            raise Refusal(409, "FAILED_PRECONDITION", "erase the record on the ledger first (EraseRecord)")
        history = self._ledger("GetRecordHistory", record_id)
        if not any((h.get("value") or {}).get("ciphertext_sha256") == address for h in history):
            raise Refusal(403, "NOT_AUTHORIZED", "that blob never belonged to this record")
        self._json(200, {"deleted": self.config.blobs.delete(address)})


def ask_until_committed(
    ask: Callable[[], dict[str, Any]],
    not_yet: Callable[[dict[str, Any]], bool],
    wait: float = COMMIT_LAG_WAIT,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """The ledger's answer, asked again with backoff while it says the access transaction is not committed
    (on this org's peer, yet), for at most `wait` seconds; then the last answer, whatever it says."""
    answer, pause, waited = ask(), 0.02, 0.0
    while not_yet(answer) and waited < wait:
        sleep(pause)
        waited += pause
        pause = min(pause * 2, 0.5)
        answer = ask()
    return answer


class _TLSServer(ThreadingHTTPServer):
    """Accepts plain TCP and runs each TLS handshake on the connection's own thread: a handshake in the
    accept loop would make every new client wait for the ones before it (and a stalled client, for ever)."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], tls: ssl.SSLContext) -> None:
        super().__init__(address, handler)
        self.tls = tls

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(HANDSHAKE_TIMEOUT)
        try:
            secure = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as exc:  # plaintext probes, scanners, clients that hang up
            log.info("TLS handshake with %s failed: %s", client_address[0], type(exc).__name__)
            return
        try:
            super().finish_request(secure, client_address)
        finally:
            secure.close()


def make_server(config: StoreConfig, host: str, port: int, tls_cert: Path, tls_key: Path) -> ThreadingHTTPServer:
    handler = type("StoreHandler", (_Handler,), {"config": config, "timeout": IDLE_TIMEOUT})
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(tls_cert), str(tls_key))
    return _TLSServer((host, port), handler, context)


def serve_forever(server: ThreadingHTTPServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, name="store-http", daemon=True)
    thread.start()
    return thread
