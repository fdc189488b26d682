"""Signed store requests, checked offline: what the signature covers, the time window, replays, the
certificate's issuer, validity and revocation, and the organization-qualified ledger id."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from careledger._signing import SigningIdentity
from careledger.store import sign_request
from careledger_protocol import ledger_member_id
from careledger_protocol.signed_requests import H_BODY, H_NONCE, H_TIME, MAX_SKEW_SECONDS
from careledger_store import AuthError, NonceCache, Requester, StaticTrust, verify_request
from careledger_store._crl import CrlFiles, RevokedSerials, no_revocations
from careledger_store._nonces import NonceCacheFull
from cryptography import x509

from .test_store_support import CA

H1, H2 = "Hospital1MSP", "Hospital2MSP"
PATH = "/blobs/" + "ab" * 32 + "?record_id=rec-1"


@pytest.fixture(scope="module")
def cas() -> dict[str, CA]:
    return {H1: CA(H1), H2: CA(H2)}


def _trusted(cas: dict[str, CA]) -> dict[str, list[x509.Certificate]]:
    return {msp: [ca.cert] for msp, ca in cas.items()}


def _verify(
    cas: dict[str, CA],
    headers: dict[str, str],
    method: str = "PUT",
    path: str = PATH,
    nonces: NonceCache | None = None,
    revoked: RevokedSerials = no_revocations,
    now: float | None = None,
) -> Requester:
    return verify_request(
        headers,
        method,
        path,
        StaticTrust(_trusted(cas), revoked),
        nonces=NonceCache() if nonces is None else nonces,
        now=now,
    )


def test_a_signed_request_names_its_sender_and_the_body_it_vouches_for(cas: dict[str, CA]) -> None:
    patient = cas[H1].member("h1-patient-1", "patient")
    headers = sign_request(patient, "PUT", PATH, b"ciphertext")
    who = _verify(cas, {k.lower(): v for k, v in headers.items()})  # header names are case-insensitive
    assert who.ledger_id == "h1-patient-1@Hospital1MSP" == ledger_member_id("h1-patient-1", H1)
    assert who.body_sha256 == hashlib.sha256(b"ciphertext").hexdigest()
    assert (who.role, who.member_id, who.msp_id) == ("patient", "h1-patient-1", H1)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda h: h.update({H_BODY: hashlib.sha256(b"other").hexdigest()}), "signature does not match"),
        (lambda h: h.update({H_NONCE: "A" * 32}), "signature does not match"),
        (lambda h: h.update({H_TIME: str(int(h[H_TIME]) - 1)}), "signature does not match"),
        (lambda h: h.pop(H_BODY), "header X-CareLedger-Body-SHA256 is missing"),
        (lambda h: h.pop(H_NONCE), "header X-CareLedger-Nonce is missing"),
        (lambda h: h.update({H_NONCE: "short"}), "nonce must be"),
        (lambda h: h.update({H_BODY: "AB" * 32}), "lower-case hex"),
    ],
)
def test_everything_the_signature_covers_is_checked(
    cas: dict[str, CA], change: Callable[[dict[str, str]], object], message: str
) -> None:
    headers = sign_request(cas[H1].member("h1-clinician-1", "clinician"), "PUT", PATH, b"x")
    change(headers)
    with pytest.raises(AuthError, match=message):
        _verify(cas, headers)
    with pytest.raises(AuthError, match="signature does not match"):
        _verify(cas, sign_request(cas[H1].member("h1-clinician-1", "clinician"), "PUT", PATH), path=PATH + "2")


def test_the_time_window_is_120_seconds(cas: dict[str, CA]) -> None:
    assert MAX_SKEW_SECONDS == 120
    headers = sign_request(cas[H1].member("h1-clinician-1", "clinician"), "GET", PATH)
    sent = int(headers[H_TIME])
    _verify(cas, headers, method="GET", now=sent + 119)
    with pytest.raises(AuthError, match="121 s away"):
        _verify(cas, headers, method="GET", now=sent + 121)


def test_a_nonce_is_accepted_once_while_its_request_is_live(cas: dict[str, CA]) -> None:
    nonces = NonceCache()
    headers = sign_request(cas[H1].member("h1-clinician-1", "clinician"), "GET", PATH)
    sent = int(headers[H_TIME])
    _verify(cas, headers, method="GET", nonces=nonces, now=sent)
    with pytest.raises(AuthError, match="replayed request"):
        _verify(cas, headers, method="GET", nonces=nonces, now=sent + 60)
    # A request that failed its checks does not take a place in the cache.
    forged = dict(headers, **{H_NONCE: "B" * 32})
    with pytest.raises(AuthError, match="signature"):
        _verify(cas, forged, method="GET", nonces=nonces, now=sent)
    assert len(nonces) == 1


def test_the_nonce_cache_forgets_by_time_and_refuses_when_full() -> None:
    nonces = NonceCache(capacity=2)
    assert nonces.add("n1", expires=100, now=0)
    assert nonces.add("n2", expires=50, now=0)
    with pytest.raises(NonceCacheFull):
        nonces.add("n3", expires=100, now=10)
    assert not nonces.add("n1", expires=100, now=10)  # still a replay while live
    assert nonces.add("n3", expires=130, now=60)  # n2 expired and made room
    assert len(nonces) == 2
    assert nonces.add("n1", expires=200, now=101)  # n1's request is out of the window: its nonce is free


def test_the_certificate_must_come_from_the_claimed_msps_ca_and_be_valid(cas: dict[str, CA]) -> None:
    impostor = cas[H2].member("h1-clinician-1", "clinician", msp_id=H1)
    with pytest.raises(AuthError, match="not issued by the CA of Hospital1MSP"):
        _verify(cas, sign_request(impostor, "GET", PATH), method="GET")
    stranger = CA("Hospital3MSP").member("x", "clinician")
    with pytest.raises(AuthError, match="not an organization of this consortium"):
        _verify(cas, sign_request(stranger, "GET", PATH), method="GET")
    expired = cas[H1].member("h1-clinician-1", "clinician", days=(-10, -1))
    with pytest.raises(AuthError, match="expired"):
        _verify(cas, sign_request(expired, "GET", PATH), method="GET")
    for member_id, role in (("x@Hospital2MSP", "patient"), ("h1-x", "superuser")):
        odd = cas[H1].member(member_id, role)
        with pytest.raises(AuthError, match="no valid CareLedger role and member_id"):
            _verify(cas, sign_request(odd, "GET", PATH), method="GET")


def test_revocations_come_from_each_cas_crl_file_and_a_forged_crl_lifts_none(
    cas: dict[str, CA], tmp_path: Path
) -> None:
    doomed, fine = cas[H1].member("h1-clinician-7", "clinician"), cas[H1].member("h1-clinician-6", "clinician")
    crl = tmp_path / "h1.crl.pem"
    now = [0.0]
    crls = CrlFiles({H1: crl, H2: tmp_path / "none.pem"}, _trusted(cas), interval=30, clock=lambda: now[0])

    def check(identity: SigningIdentity) -> None:
        _verify(cas, sign_request(identity, "GET", PATH), method="GET", revoked=crls)

    check(doomed)  # no CRL file yet: nothing revoked
    crl.write_bytes(cas[H1].crl(doomed))
    check(doomed)  # not re-read before the interval
    now[0] = 31
    with pytest.raises(AuthError, match=r"^certificate revoked$"):
        check(doomed)
    check(fine)
    # A CRL signed by another CA is not taken (it could lift a revocation): the known serials stay.
    crl.write_bytes(cas[H2].crl())
    time.sleep(0.01)
    now[0] = 62
    with pytest.raises(AuthError, match="certificate revoked"):
        check(doomed)
    assert crls(H2) == frozenset()
