"""The record store as it runs in production (gunicorn, TLS) on loopback, with a fake ledger for the store's
own ledger questions: authentication before the body, replays, certificates, uploads checked against the
ledger, release against access verdicts, and a clean stop on SIGTERM."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from careledger._signing import SigningIdentity
from careledger.store import NotOnLedger, StoreClient, StoreError, sign_request
from careledger_store import FileBlobStore
from careledger_store._server import MAX_BLOB

from .test_store_support import CA, StoreProcess

H1, H2 = "Hospital1MSP", "Hospital2MSP"
OPTIONS = {"threads": 4, "max_connections": 8, "head_timeout": 1.5, "keepalive": 2}


@pytest.fixture(scope="module")
def cas() -> dict[str, CA]:
    return {H1: CA(H1), H2: CA(H2)}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, cas: dict[str, CA]) -> Iterator[StoreProcess]:
    process = StoreProcess(tmp_path_factory.mktemp("store"), list(cas.values()), **OPTIONS)
    yield process
    assert process.stop() == 0, process.log()
    assert "Traceback" not in process.log()


def _client(store: StoreProcess, identity: SigningIdentity) -> StoreClient:
    return StoreClient(f"https://127.0.0.1:{store.port}", store.cert.read_bytes(), identity)


def _record(blob: bytes, custodian: str = H1, patient: str = "h1-patient-1@Hospital1MSP", **extra: Any) -> Any:
    return {
        "custodian": custodian,
        "patient_id": patient,
        "ciphertext_sha256": hashlib.sha256(blob).hexdigest(),
        "status": "active",
        **extra,
    }


def _refusal(call: Any) -> StoreError:
    with pytest.raises(StoreError) as info:
        call()
    return info.value


def _raw_response(sock: Any, timeout: float) -> tuple[int, bytes]:
    """Status and the bytes received up to the end of the headers and a short body, read from a raw socket."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return int(data.split(b" ", 2)[1]), data


def test_an_unauthenticated_upload_is_refused_before_its_body_is_sent(store: StoreProcess) -> None:
    with store.connect() as sock:
        started = time.monotonic()
        address = "ab" * 32
        sock.sendall(
            f"PUT /blobs/{address}?record_id=rec-x HTTP/1.1\r\nHost: store\r\nContent-Length: 90000000\r\n\r\n".encode()
            + b"only a few bytes of 90 MB"
        )
        status, head = _raw_response(sock, timeout=5)
        elapsed = time.monotonic() - started
    assert status == 401
    assert b"Connection: close" in head  # what was not read must not be taken for a next request
    assert elapsed < 2, f"the refusal took {elapsed:.1f} s: the store waited for the body"
    assert f"refused PUT /blobs/{address} for an unauthenticated caller: 401 NOT_AUTHENTICATED" in store.log()


def _send_signed_head(store: StoreProcess, identity: SigningIdentity, path: str, headers: dict[str, str]) -> int:
    conn = http.client.HTTPSConnection("127.0.0.1", store.port, timeout=5, context=store.context)
    try:
        conn.putrequest("PUT", path, skip_accept_encoding=True)
        for name, value in {**sign_request(identity, "PUT", path, b"x"), **headers}.items():
            conn.putheader(name, value)
        conn.endheaders()  # and no body
        return conn.getresponse().status
    finally:
        conn.close()


def test_uploads_must_declare_a_length_within_the_cap(store: StoreProcess, cas: dict[str, CA]) -> None:
    clinician = cas[H1].member("h1-clinician-1", "clinician")
    path = f"/blobs/{hashlib.sha256(b'x').hexdigest()}?record_id=rec-cap"
    started = time.monotonic()
    assert _send_signed_head(store, clinician, path, {"Content-Length": str(MAX_BLOB + 1)}) == 413
    assert time.monotonic() - started < 2
    assert _send_signed_head(store, clinician, path, {}) == 411
    assert _send_signed_head(store, clinician, path, {"Transfer-Encoding": "chunked"}) == 411


def test_a_replayed_request_is_refused(store: StoreProcess, cas: dict[str, CA]) -> None:
    clinician = cas[H1].member("h1-clinician-2", "clinician")
    path = f"/blobs/{'cd' * 32}?record_id=rec-replay&access_tx=tx-replay"
    headers = sign_request(clinician, "GET", path)
    first = store.request("GET", path, headers=headers)
    assert first[0] == 403  # the fake ledger shows no access; what matters is that it was authenticated
    again = store.request("GET", path, headers=headers)
    assert again[0] == 401
    assert "replayed request" in json.loads(again[2])["message"]
    # The same request signed afresh is not a replay.
    assert store.request("GET", path, headers=sign_request(clinician, "GET", path))[0] == 403


def test_a_certificate_of_another_msps_ca_is_refused(store: StoreProcess, cas: dict[str, CA]) -> None:
    impostor = cas[H2].member("h1-clinician-1", "clinician", msp_id=H1)  # issued by Hospital2's CA
    error = _refusal(lambda: _client(store, impostor).get("ef" * 32, "rec-1", "tx-1"))
    assert (error.status, error.code) == (401, "NOT_AUTHENTICATED")
    assert f"not issued by the CA of {H1}" in str(error)


def test_a_revoked_certificate_is_refused(store: StoreProcess, cas: dict[str, CA]) -> None:
    doomed = cas[H1].member("h1-clinician-9", "clinician")
    client = _client(store, doomed)
    assert _refusal(lambda: client.get("ef" * 32, "rec-1", "tx-1")).status == 403  # authenticated
    store.crl_files[H1].write_bytes(cas[H1].crl(doomed))
    time.sleep(0.5)  # the test store re-reads CRLs every 0.2 s (30 s in production)
    error = _refusal(lambda: client.get("ef" * 32, "rec-1", "tx-1"))
    assert (error.status, str(error)) == (401, "record store refused: certificate revoked")
    other = cas[H1].member("h1-clinician-8", "clinician")  # the CA revoked one certificate, not everyone
    assert _refusal(lambda: _client(store, other).get("ef" * 32, "rec-1", "tx-1")).status == 403


def test_uploads_are_checked_against_the_ledger(store: StoreProcess, cas: dict[str, CA]) -> None:
    blob, other_blob = os.urandom(3000), os.urandom(2000)
    store.set_ledger(
        {
            "records": {
                "rec-h1": _record(blob),
                "rec-h2": _record(blob, custodian=H2, patient="h2-patient-1@Hospital2MSP"),
                "rec-erased": _record(blob, status="erased"),
                "rec-other-patient": _record(other_blob, patient="h1-patient-2@Hospital1MSP"),
            },
            "viewer_msp": H1,
        }
    )
    clinician = _client(store, cas[H1].member("h1-clinician-1", "clinician"))
    foreign = _client(store, cas[H2].member("h2-clinician-1", "clinician"))
    patient_1 = _client(store, cas[H1].member("h1-patient-1", "patient"))
    researcher = _client(store, cas[H1].member("h1-researcher-1", "researcher"))
    foreign_admin = _client(store, cas[H2].member("h2-admin", "admin"))
    # What the ledger does not name is refused as NotOnLedger (a client drops its outbox copy on it); who may
    # not upload is refused otherwise (a client keeps its copy).
    cases = {
        "no such record": (clinician, blob, "rec-missing", 404, True),
        "another org's record": (clinician, blob, "rec-h2", 403, False),
        "an erased record": (clinician, blob, "rec-erased", 409, True),
        "not the ledger's ciphertext": (clinician, os.urandom(3000), "rec-h1", 403, True),
        "another hospital's clinician": (foreign, blob, "rec-h1", 403, False),
        "another hospital's admin": (foreign_admin, blob, "rec-h1", 403, False),
        "a patient of another record": (patient_1, other_blob, "rec-other-patient", 403, False),
        "a researcher": (researcher, blob, "rec-h1", 403, False),
    }
    for case, (client, body, record_id, status, unnamed) in cases.items():
        refused = _refusal(lambda c=client, b=body, r=record_id: c.put(b, r))
        assert refused.status == status, case
        assert isinstance(refused, NotOnLedger) == unnamed, case
        assert (refused.code == "NOT_ON_LEDGER") == unnamed, case
    kept = FileBlobStore(store.root / "blobs")
    assert not any(kept.exists(hashlib.sha256(body).hexdigest()) for _, body, _, _, _ in cases.values())
    # The custodian's clinician, and the record's own patient, store the ledger's current ciphertext.
    assert clinician.put(blob, "rec-h1") == hashlib.sha256(blob).hexdigest()
    patient = _client(store, cas[H1].member("h1-patient-2", "patient"))
    assert patient.put(other_blob, "rec-other-patient") == hashlib.sha256(other_blob).hexdigest()
    assert " for h1-researcher-1 of Hospital1MSP: 403 NOT_AUTHORIZED: only clinicians and the admin of" in store.log()


def test_the_custodians_admin_uploads_what_the_ledger_names(store: StoreProcess, cas: dict[str, CA]) -> None:
    """The hospital app's background job flushes the upload outbox as the admin."""
    blob = os.urandom(1500)
    store.set_ledger({"records": {"rec-outbox": _record(blob)}})
    admin = _client(store, cas[H1].member("h1-admin", "admin"))
    refused = _refusal(lambda: admin.put(os.urandom(1500), "rec-outbox"))
    assert isinstance(refused, NotOnLedger)  # the admin, too, stores only what the ledger names
    assert admin.put(blob, "rec-outbox") == hashlib.sha256(blob).hexdigest()


def test_an_upload_right_after_the_record_commits_waits_for_the_stores_peer(
    store: StoreProcess, cas: dict[str, CA]
) -> None:
    blob = os.urandom(1000)
    store.set_ledger({"records": {"rec-new": _record(blob)}, "visible_after": {"rec-new": time.time() + 1.0}})
    clinician = _client(store, cas[H1].member("h1-clinician-1", "clinician"))
    assert clinician.put(blob, "rec-new") == hashlib.sha256(blob).hexdigest()


def test_granted_access_releases_the_blob_alone_and_in_batches(store: StoreProcess, cas: dict[str, CA]) -> None:
    blob = os.urandom(5000)
    address = hashlib.sha256(blob).hexdigest()
    reader = cas[H2].member("h2-clinician-1", "clinician")
    granted = {"granted": True, "reason": "granted", "ciphertext_sha256": address}
    store.set_ledger(
        {
            "records": {"rec-open": _record(blob)},
            "verdicts": {"tx-open": {"h2-clinician-1@Hospital2MSP": {"rec-open": granted}}},
        }
    )
    assert _client(store, cas[H1].member("h1-clinician-1", "clinician")).put(blob, "rec-open") == address
    client = _client(store, reader)
    assert client.get(address, "rec-open", "tx-open") == blob
    assert client.get_many({"rec-open": None, "rec-closed": None}, "tx-open")["rec-open"] == blob
    refused = client.get_many({"rec-open": None, "rec-closed": None}, "tx-open")["rec-closed"]
    assert isinstance(refused, StoreError)
    # The store asked the ledger about the requester by its organization-qualified ledger id.
    calls = [json.loads(line) for line in store.ledger_file.with_suffix(".calls").read_text().splitlines()]
    assert ["VerifyAccess", "tx-open", "h2-clinician-1@Hospital2MSP", "rec-open"] in calls
    # Someone else presenting that transaction is refused.
    intruder = _client(store, cas[H1].member("h1-patient-3", "patient"))
    assert _refusal(lambda: intruder.get(address, "rec-open", "tx-open")).status == 403


def test_a_body_that_does_not_match_its_signed_hash_is_refused(store: StoreProcess, cas: dict[str, CA]) -> None:
    blob = os.urandom(1000)
    store.set_ledger({"records": {"rec-swap": _record(blob)}})
    clinician = cas[H1].member("h1-clinician-1", "clinician")
    path = f"/blobs/{hashlib.sha256(blob).hexdigest()}?record_id=rec-swap"
    swapped = bytes([blob[0] ^ 1]) + blob[1:]
    status, _, body = store.request("PUT", path, swapped, sign_request(clinician, "PUT", path, blob))
    assert status == 401
    assert "does not match the SHA-256" in json.loads(body)["message"]
