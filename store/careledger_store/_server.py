"""A hospital's record store, as a WSGI application (served by gunicorn, see _serve.py).

    GET    /healthz
    PUT    /blobs/<sha256>?record_id=R     store the current ciphertext of record R, once R (or its new
                                           version) is on the ledger naming that SHA-256: the custodian's
                                           clinicians and admin (who flushes its upload outbox) and the
                                           record's patient. A ciphertext the ledger does not name (no such
                                           record, erased, not its current version) is refused with the
                                           code NOT_ON_LEDGER: no retry will change that
    GET    /blobs/<sha256>?record_id=R&access_tx=T
                                           release it to the signer of the request iff the committed
                                           transaction T granted the signer record R (asked of the ledger)
    POST   /blobs:fetch?access_tx=T        body {"records": {record_id: sha256}}: the same for a batch, with
                                           one ledger question; the answer is a 4-byte length, a JSON index
                                           [{record_id, address, size, granted, reason}], then the blobs
    DELETE /blobs/<sha256>?record_id=R     after erasure on the ledger: destroy the ciphertext

Every request but /healthz is signed with the requester's Fabric identity (see _auth.py) and is
authenticated from its headers before any of its body is read: an unauthenticated upload is refused
without taking its bytes. PUT and POST must declare their Content-Length (else 411), at most MAX_BLOB
(else 413); the body is then read, as far as that length, and checked against the signed SHA-256.
Refusals are JSON {"error": code, "message": text}; each is logged with who, what and why, never content.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from careledger.errors import GatewayError, InvalidArgument, NotAuthorized, NotFound
from careledger_protocol import NOT_ON_LEDGER, UNKNOWN_ACCESS

from ._auth import AuthError, Requester, verify_request
from ._blobs import BlobError, BlobNotFound, BlobStore, BlobUnavailable, check_address
from ._guard import CURRENT, GUARD
from ._nonces import NonceCache, NonceCacheFull
from ._trust import Trust
from ._verdicts import ask_until_committed, closed_by_own_clock

log = logging.getLogger("careledger_store")
MAX_BLOB = 100 * 1024 * 1024
MAX_FETCH_BODY = 1024 * 1024  # a batch names at most 500 records: far below this
# A client presents an access transaction (or uploads a record it just registered) as soon as its own
# peer committed it; this org's peer may be a block behind for a moment. The store asks again for up to
# this long before calling it unknown.
COMMIT_LAG_WAIT = 3.0
# What a request may take on its worker thread (the slow-client guard, _guard.py): its ledger questions,
# and its body or answer moving at no less than MIN_TRANSFER_RATE after a grace for the first bytes.
PROCESSING_SECONDS = 30.0
TRANSFER_GRACE = 10.0
MIN_TRANSFER_RATE = 256 * 1024  # bytes per second
_READ_CHUNK = 1024 * 1024
_REASONS = {200: "OK", 201: "Created", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden"}
_REASONS |= {404: "Not Found", 405: "Method Not Allowed", 408: "Request Timeout", 409: "Conflict"}
_REASONS |= {411: "Length Required", 413: "Content Too Large", 503: "Service Unavailable"}

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


@dataclass
class StoreConfig:
    org_msp: str
    blobs: BlobStore
    trust: Trust  # each MSP's CA certificates and the serials its CA revoked, kept current (_trust.py)
    evaluate: Callable[[str, list[str]], bytes]  # evaluate a healthcare-contract function on the ledger


class Refusal(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class _Request:
    method: str
    target: str  # path and query exactly as sent: what the client signed
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    content_length: int | None
    stream: Any  # wsgi.input
    body_pending: bool  # bytes of a body may be left unread on the connection

    @classmethod
    def of(cls, environ: dict[str, Any]) -> _Request:
        # RAW_URI (gunicorn) is the request target as sent; PATH_INFO is already percent-decoded.
        target = environ.get("RAW_URI") or quote(environ.get("PATH_INFO", "")) + (
            "?" + environ["QUERY_STRING"] if environ.get("QUERY_STRING") else ""
        )
        parts = urlsplit(target)
        headers = {k[5:].replace("_", "-").lower(): str(v) for k, v in environ.items() if k.startswith("HTTP_")}
        declared = environ.get("CONTENT_LENGTH") or ""
        length = int(declared) if declared.isdigit() else None
        return cls(
            method=str(environ.get("REQUEST_METHOD", "GET")).upper(),
            target=target,
            path=parts.path,
            query={k: v[-1] for k, v in parse_qs(parts.query).items()},
            headers=headers,
            content_length=length,
            stream=environ.get("wsgi.input"),
            body_pending=bool(length) or "transfer-encoding" in headers,
        )


class StoreApp:
    """The WSGI application. One instance per worker process: its nonce cache is what detects replays."""

    def __init__(self, config: StoreConfig, nonces: NonceCache | None = None) -> None:
        self.config = config
        self.nonces = NonceCache() if nonces is None else nonces

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        req = _Request.of(environ)
        who = "an unauthenticated caller"
        GUARD.allow(PROCESSING_SECONDS)
        try:
            if req.path == "/healthz" and req.method == "GET":
                return _respond(start_response, 200, _json({"status": "OK"}))
            address = self._route(req)
            requester = self._authenticate(req)
            who = f"{requester.member_id} of {requester.msp_id}"
            if address is None:
                status, parts, content_type = self._fetch(req, requester)
            else:
                status, parts, content_type = getattr(self, f"_{req.method.lower()}")(req, address, requester)
            return _respond(start_response, status, parts, content_type)
        except Refusal as exc:
            # The audit line of a refusal: who, what, why (ids and codes only, never content).
            log.warning("refused %s %s for %s: %d %s: %s", req.method, req.path, who, exc.status, exc.code, exc.message)
            if req.body_pending:  # an unread body must not be taken for the next request: close after this
                CURRENT.close_after_response()
            return _respond(start_response, exc.status, _json({"error": exc.code, "message": exc.message}))

    # -- plumbing ------------------------------------------------------------------------------------------
    def _route(self, req: _Request) -> str | None:
        """The blob address the request is about; None for the batch fetch. Refuses unknown endpoints."""
        if req.path == "/blobs:fetch":
            if req.method != "POST":
                raise Refusal(405, "METHOD_NOT_ALLOWED", "use POST /blobs:fetch")
            return None
        if not req.path.startswith("/blobs/"):
            raise Refusal(404, "NOT_FOUND", "no such endpoint; use /blobs/<sha256>")
        if req.method not in ("GET", "PUT", "DELETE"):
            raise Refusal(405, "METHOD_NOT_ALLOWED", "blobs are stored (PUT), read (GET) and destroyed (DELETE)")
        try:
            return check_address(req.path[len("/blobs/") :])
        except BlobError as exc:
            raise Refusal(400, "INVALID_ARGUMENT", str(exc)) from None

    def _authenticate(self, req: _Request) -> Requester:
        try:
            return verify_request(
                req.headers,
                req.method,
                req.target,
                self.config.trust,
                nonces=self.nonces,
            )
        except AuthError as exc:
            raise Refusal(401, "NOT_AUTHENTICATED", str(exc)) from None
        except NonceCacheFull as exc:
            raise Refusal(503, "UNAVAILABLE", str(exc)) from None

    def _check_length(self, req: _Request, limit: int) -> int:
        if req.content_length is None:
            raise Refusal(411, "LENGTH_REQUIRED", "send the body with a Content-Length (no chunked uploads)")
        if req.content_length > limit:
            raise Refusal(413, "TOO_LARGE", f"the body may be at most {limit} bytes")
        return req.content_length

    def _read_body(self, req: _Request, who: Requester) -> bytes:
        """The body, as far as its Content-Length (checked before), hashed as it arrives; refused unless it
        is whole and its SHA-256 is the one the requester signed."""
        length = req.content_length or 0
        GUARD.allow(TRANSFER_GRACE + length / MIN_TRANSFER_RATE)
        digest, body = hashlib.sha256(), bytearray()
        try:
            while len(body) < length:
                chunk = req.stream.read(min(_READ_CHUNK, length - len(body)))
                if not chunk:
                    break
                digest.update(chunk)
                body += chunk
        except OSError:
            pass  # the client went away, or the guard cut it off: the body is short
        GUARD.allow(PROCESSING_SECONDS)
        if len(body) < length:
            if GUARD.expired():
                raise Refusal(408, "TIMEOUT", "the body did not arrive in time")
            raise Refusal(400, "INVALID_ARGUMENT", "the body ended before its Content-Length")
        req.body_pending = False
        if digest.hexdigest() != who.body_sha256:
            raise Refusal(401, "NOT_AUTHENTICATED", "the body does not match the SHA-256 the request signed")
        return bytes(body)

    def _ledger(self, function: str, *args: str) -> Any:
        try:
            return json.loads(self.config.evaluate(function, list(args)))
        except NotFound:
            raise Refusal(404, "NOT_FOUND", f"the ledger has no record {args[0]}") from None
        except NotAuthorized:
            raise Refusal(403, "NOT_AUTHORIZED", f"record {args[0]} is not kept by this store") from None
        except InvalidArgument:
            raise Refusal(400, "INVALID_ARGUMENT", f"the ledger refused the arguments of {function}") from None
        except GatewayError as exc:
            log.warning("ledger query %s failed: %s", function, type(exc).__name__)
            raise Refusal(503, "LEDGER_UNAVAILABLE", "the ledger could not be asked; retry") from None

    def _record(self, record_id: str) -> dict[str, Any]:
        """The record as the ledger has it now, waiting a moment for one just registered (COMMIT_LAG_WAIT)."""

        def ask() -> dict[str, Any]:
            try:
                return {"record": self._ledger("GetRecord", record_id)}
            except Refusal as exc:
                if exc.status != 404:
                    raise
                return {"record": None}

        record: dict[str, Any] | None = ask_until_committed(ask, lambda a: a["record"] is None)["record"]
        if record is None:
            raise Refusal(404, NOT_ON_LEDGER, f"the ledger has no record {record_id}")
        return record

    # -- operations -----------------------------------------------------------------------------------------------
    def _put(self, req: _Request, address: str, who: Requester) -> tuple[int, list[bytes], str]:
        length = self._check_length(req, MAX_BLOB)
        record_id = _record_id(req)
        if who.body_sha256 != address:
            raise Refusal(400, "INVALID_ARGUMENT", "the signed body SHA-256 is not the address it was sent to")
        # Everything is decided from the ledger before a byte of the body is read.
        record = self._record(record_id)
        if record.get("custodian") != self.config.org_msp:
            raise Refusal(403, "NOT_AUTHORIZED", f"record {record_id} is not kept by this store")
        staff = who.msp_id == self.config.org_msp and who.role in ("clinician", "admin")
        patient = who.role == "patient" and record.get("patient_id") == who.ledger_id
        if not (staff or patient):
            raise Refusal(
                403,
                "NOT_AUTHORIZED",
                f"only clinicians and the admin of {self.config.org_msp} and the record's patient store it",
            )
        if record.get("status") == "erased":
            raise Refusal(409, NOT_ON_LEDGER, f"record {record_id} was erased")
        if record.get("ciphertext_sha256") != address:
            raise Refusal(403, NOT_ON_LEDGER, "that blob is not the record's current ciphertext on the ledger")
        body = self._read_body(req, who)
        try:
            stored = self.config.blobs.put(body)
        except BlobUnavailable as exc:  # a place (the replica, a bucket) could not keep it: nothing acknowledged
            log.error("upload for record %s not stored: %s", record_id, exc)
            raise Refusal(503, "UNAVAILABLE", "the record store could not keep the blob; retry") from None
        except BlobError as exc:
            raise Refusal(400, "INVALID_ARGUMENT", str(exc)) from None
        return 201, _json({"address": stored, "size": length}), "application/json"

    def _get(self, req: _Request, address: str, who: Requester) -> tuple[int, list[bytes], str]:
        record_id, access_tx = _record_id(req), _access_tx(req)
        verdict = ask_until_committed(
            lambda: self._ledger("VerifyAccess", access_tx, who.ledger_id, record_id),
            lambda v: v.get("code") == UNKNOWN_ACCESS,
        )
        if not verdict.get("granted"):
            raise Refusal(403, "NOT_AUTHORIZED", f"the ledger does not show this access: {verdict.get('reason')}")
        if verdict.get("ciphertext_sha256") != address:
            raise Refusal(403, "NOT_AUTHORIZED", "that blob is not the current ciphertext of the record")
        closed = closed_by_own_clock(verdict)
        if closed:
            raise Refusal(403, "NOT_AUTHORIZED", closed)
        try:
            blob = self.config.blobs.get(address)
        except BlobNotFound as exc:
            raise Refusal(404, "NOT_FOUND", str(exc)) from None
        except BlobUnavailable as exc:
            log.error("read for record %s failed: %s", record_id, exc)
            raise Refusal(503, "UNAVAILABLE", "the record store could not read the blob; retry") from None
        except BlobError as exc:
            raise Refusal(400, "INVALID_ARGUMENT", str(exc)) from None
        return 200, [blob], "application/octet-stream"

    def _fetch(self, req: _Request, who: Requester) -> tuple[int, list[bytes], str]:
        access_tx = _access_tx(req)
        self._check_length(req, MAX_FETCH_BODY)
        body = self._read_body(req, who)
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
            lambda: self._ledger("VerifyAccessBatch", access_tx, who.ledger_id, json.dumps(sorted(addresses))),
            lambda v: any(x.get("code") == UNKNOWN_ACCESS for x in v["verdicts"].values()),
        )["verdicts"]
        index, blobs = [], []
        for record_id, asked in sorted(addresses.items()):
            verdict = verdicts[record_id]
            address = asked or verdict.get("ciphertext_sha256") or ""
            current = verdict.get("ciphertext_sha256") == address
            closed = closed_by_own_clock(verdict) if verdict.get("granted") else None
            granted = bool(verdict.get("granted")) and current and not closed
            if granted:
                reason = "granted"
            elif closed:
                reason = closed
            elif verdict.get("granted"):
                reason = "that blob is not the current ciphertext of the record"
            else:
                reason = str(verdict.get("reason", ""))
            blob = b""
            if granted:
                try:
                    blob = self.config.blobs.get(address)
                except BlobError:  # BlobNotFound, or corrupt at rest: never released
                    granted, reason = False, "this store holds no such ciphertext"
            index.append(
                {"record_id": record_id, "address": address, "granted": granted, "reason": reason, "size": len(blob)}
            )
            blobs.append(blob)
        header = json.dumps(index, sort_keys=True).encode()
        return 200, [len(header).to_bytes(4, "big"), header, *blobs], "application/octet-stream"

    def _delete(self, req: _Request, address: str, who: Requester) -> tuple[int, list[bytes], str]:
        record_id = _record_id(req)
        record = self._ledger("GetRecord", record_id)
        is_patient = who.role == "patient" and record.get("patient_id") == who.ledger_id
        is_staff = who.msp_id == self.config.org_msp and who.role in ("clinician", "admin")
        if not (is_patient or is_staff):
            raise Refusal(403, "NOT_AUTHORIZED", "only the patient or the custodian's staff may destroy a ciphertext")
        if record.get("status") != "erased":
            raise Refusal(409, "FAILED_PRECONDITION", "erase the record on the ledger first (EraseRecord)")
        history = self._ledger("GetRecordHistory", record_id)
        if not any((h.get("value") or {}).get("ciphertext_sha256") == address for h in history):
            raise Refusal(403, "NOT_AUTHORIZED", "that blob never belonged to this record")
        try:
            deleted = self.config.blobs.delete(address)
        except BlobUnavailable as exc:  # every place must lose it: an erasure half done is retried whole
            log.error("delete for record %s not done: %s", record_id, exc)
            raise Refusal(503, "UNAVAILABLE", "the record store could not delete the blob everywhere; retry") from None
        return 200, _json({"deleted": deleted}), "application/json"


def _record_id(req: _Request) -> str:
    record_id = req.query.get("record_id", "")
    if not record_id:
        raise Refusal(400, "INVALID_ARGUMENT", "give the record_id the blob belongs to")
    return record_id


def _access_tx(req: _Request) -> str:
    access_tx = req.query.get("access_tx", "")
    if not access_tx:
        raise Refusal(400, "INVALID_ARGUMENT", "give access_tx: the id of your committed RequestAccess transaction")
    return access_tx


def _json(doc: dict[str, Any]) -> list[bytes]:
    return [json.dumps(doc, sort_keys=True).encode()]


def _respond(
    start_response: StartResponse, status: int, parts: list[bytes], content_type: str = "application/json"
) -> list[bytes]:
    size = sum(len(p) for p in parts)
    # The answer must be taken at the minimum rate too: a client that stops reading is cut off.
    GUARD.allow(TRANSFER_GRACE + size / MIN_TRANSFER_RATE)
    headers = [("Content-Type", content_type), ("Content-Length", str(size)), ("Cache-Control", "no-store")]
    start_response(f"{status} {_REASONS.get(status, 'Error')}", headers)
    return parts
