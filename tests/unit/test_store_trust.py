"""The record store's trust file (--trust-file, careledger_store._trust): an organization written into it is
trusted by a running store within seconds and one taken out no longer is, with its CRL; a damaged file keeps
the trust known before; a store does not start on a missing or damaged one. And the network's side: the file
careledger_network.specs writes for every organization, and the store command line that names it."""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from careledger._signing import SigningIdentity
from careledger.store import StoreClient, StoreError, sign_request
from careledger_network import crypto
from careledger_network.consortium import load
from careledger_network.specs import store_spec, store_trust_file, write_store_trust
from careledger_store import AuthError, NonceCache, TrustFile, TrustFileError, verify_request
from careledger_store.__main__ import main as store_main
from careledger_store._trust import read_trust_file
from cryptography.hazmat.primitives import serialization

from .test_store_support import CA, StoreProcess

H1, H2, H3 = "Hospital1MSP", "Hospital2MSP", "Hospital3MSP"
PATH = "/blobs/" + "ab" * 32 + "?record_id=rec-1"
SECRET = "h3-patient-77 diagnosis: do-not-log"  # in a damaged file: must never reach the log


def _pem(ca: CA) -> bytes:
    return ca.cert.public_bytes(serialization.Encoding.PEM)


def _entry(folder: Path, ca: CA, relative: bool = False) -> dict[str, str]:
    """Write the CA's certificate under folder/cas/; its entry names it (and a CRL file beside it)."""
    (folder / "cas").mkdir(exist_ok=True)
    (folder / "cas" / f"{ca.msp_id}.pem").write_bytes(_pem(ca))
    base = Path("cas") if relative else folder / "cas"
    return {"ca": str(base / f"{ca.msp_id}.pem"), "crl": str(base / f"{ca.msp_id}.crl.pem")}


def _write(path: Path, doc: Any) -> None:
    """Replace the file as write_atomic does (a new inode), so its stamp changes even within one mtime tick."""
    tmp = path.with_suffix(".incoming")
    tmp.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    tmp.replace(path)


def _eventually(check: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


# -- a served store follows its trust file ------------------------------------------------------------------------
def _status(store: StoreProcess, who: SigningIdentity) -> tuple[int, str]:
    """403 when the request was authenticated (the fake ledger shows no access); 401 and why when refused."""
    client = StoreClient(f"https://127.0.0.1:{store.port}", store.cert.read_bytes(), who)
    try:
        client.get("ef" * 32, "rec-1", "tx-1")
    except StoreError as exc:
        return exc.status, str(exc)
    finally:
        client.close()
    raise AssertionError("the fake ledger grants nothing: the store must not release a blob")


def test_a_running_store_trusts_an_organization_once_the_trust_file_names_it(tmp_path: Path) -> None:
    cas = {H1: CA(H1), H2: CA(H2)}
    trust_file = tmp_path / "trust.json"
    doc = {msp: _entry(tmp_path, ca) for msp, ca in cas.items()}
    _write(trust_file, doc)
    (tmp_path / "store").mkdir()
    store = StoreProcess(tmp_path / "store", [], trust_file=trust_file, trust_refresh=0.2, threads=2, max_connections=4)
    try:
        h3 = CA(H3)
        member, doomed = h3.member("h3-clinician-1", "clinician"), h3.member("h3-clinician-2", "clinician")
        assert _status(store, cas[H2].member("h2-clinician-1", "clinician"))[0] == 403  # trusted from the start
        status, message = _status(store, member)
        assert status == 401
        assert f"{H3} is not an organization of this consortium" in message

        # Hospital3 joins: its CA, and a CRL that already revokes one of its members, written into the file.
        entry = _entry(tmp_path, h3, relative=True)  # relative paths are from the file's folder
        (tmp_path / entry["crl"]).write_bytes(h3.crl(doomed))
        _write(trust_file, {**doc, H3: entry})
        assert _eventually(lambda: _status(store, member)[0] == 403), store.log()  # no restart
        assert _status(store, doomed) == (401, "record store refused: certificate revoked")

        # A damaged file is reported (path and counts, never its content) and changes nothing.
        _write(trust_file, '{"Hospital3MSP": "' + SECRET)
        kept = "keeping the 3 organizations trusted before"
        assert _eventually(lambda: _status(store, member)[0] == 403 and kept in store.log()), store.log()  # on use
        assert _status(store, doomed)[0] == 401
        assert SECRET not in store.log()

        # Taken out of the file, Hospital3 is no longer trusted.
        _write(trust_file, doc)
        assert _eventually(lambda: _status(store, member)[0] == 401), store.log()
        assert _status(store, cas[H1].member("h1-clinician-1", "clinician"))[0] == 403
    finally:
        assert store.stop() == 0, store.log()
    assert "Traceback" not in store.log()
    assert f"added: {H3}; removed: none" in store.log()
    assert f"added: none; removed: {H3}" in store.log()


# -- TrustFile on a clock of our own ------------------------------------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _check(trust: TrustFile, who: SigningIdentity) -> None:
    verify_request(sign_request(who, "GET", PATH), "GET", PATH, trust, nonces=NonceCache())


def _trust(tmp_path: Path, cas: dict[str, CA], clock: Clock) -> tuple[Path, dict[str, dict[str, str]], TrustFile]:
    path = tmp_path / "trust.json"
    doc = {msp: _entry(tmp_path, ca) for msp, ca in cas.items()}
    _write(path, doc)
    return path, doc, TrustFile(path, interval=5, crl_interval=30, clock=clock)


def test_the_file_is_looked_at_every_interval_and_a_new_orgs_crl_is_read_at_once(tmp_path: Path) -> None:
    clock, h1, h3 = Clock(), CA(H1), CA(H3)
    path, doc, trust = _trust(tmp_path, {H1: h1}, clock)
    member, doomed = h3.member("h3-clinician-1", "clinician"), h3.member("h3-clinician-2", "clinician")
    entry = _entry(tmp_path, h3)
    Path(entry["crl"]).write_bytes(h3.crl(doomed))
    _write(path, {**doc, H3: entry})
    clock.now = 4.9
    with pytest.raises(AuthError, match="not an organization of this consortium"):
        _check(trust, member)  # not looked at again before the interval
    clock.now = 5.0
    _check(trust, member)
    # Its CRL is read with it, though the CRLs' own interval (30 s) has not passed.
    with pytest.raises(AuthError, match=r"^certificate revoked$"):
        _check(trust, doomed)
    assert trust.msp_ids() == {H1, H3}


def test_a_ca_certificate_replaced_under_the_same_name_is_reread(tmp_path: Path) -> None:
    clock, old, new = Clock(), CA(H2), CA(H2)
    _path, doc, trust = _trust(tmp_path, {H2: old}, clock)
    _check(trust, old.member("h2-clinician-1", "clinician"))
    ca_file = Path(doc[H2]["ca"])
    tmp = ca_file.with_suffix(".new")
    tmp.write_bytes(_pem(new))
    tmp.replace(ca_file)  # the trust file itself did not change
    clock.now = 5
    _check(trust, new.member("h2-clinician-1", "clinician"))
    with pytest.raises(AuthError, match=f"not issued by the CA of {H2}"):
        _check(trust, old.member("h2-clinician-1", "clinician"))


def _junk_ca(p: Path, doc: dict[str, Any]) -> str:
    (p.parent / "junk.pem").write_text(SECRET)
    return json.dumps({H1: {"ca": str(p.parent / "junk.pem")}})


DAMAGE: dict[str, Callable[[Path, dict[str, Any]], str]] = {
    "not JSON": lambda p, doc: '{"Hospital1MSP": ' + json.dumps(SECRET),
    "no organization": lambda p, doc: "{}",
    "a list": lambda p, doc: json.dumps([SECRET]),
    "a misspelt key": lambda p, doc: json.dumps({H1: {"ca": doc[H1]["ca"], "crls": SECRET}}),
    "no CA": lambda p, doc: json.dumps({H1: {"crl": doc[H1]["crl"]}}),
    "a CA file that is not there": lambda p, doc: json.dumps({H1: {"ca": str(p.parent / "gone.pem")}}),
    "a CA file that holds no certificate": _junk_ca,
    "deleted": lambda p, doc: "",
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_trust_file_keeps_the_trust_known_before(
    tmp_path: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    clock, h1, h2 = Clock(), CA(H1), CA(H2)
    path, doc, trust = _trust(tmp_path, {H1: h1, H2: h2}, clock)
    revoked = h1.member("h1-clinician-9", "clinician")
    Path(doc[H1]["crl"]).write_bytes(h1.crl(revoked))
    clock.now = 31  # the CRL is known
    with pytest.raises(AuthError, match="certificate revoked"):
        _check(trust, revoked)
    text = DAMAGE[damage](path, doc)
    if damage == "deleted":
        path.unlink()
    else:
        _write(path, text)
    with caplog.at_level(logging.INFO, logger="careledger_store"):
        for step in range(3):  # looked at three times: reported once
            clock.now = 40 + 5 * step
            _check(trust, h2.member("h2-clinician-1", "clinician"))
            with pytest.raises(AuthError, match="certificate revoked"):  # a broken file lifts no revocation
                _check(trust, revoked)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    assert f"trust file {path} not taken (keeping the 2 organizations trusted before)" in warnings[0]
    assert SECRET not in caplog.text
    # Once repaired, it is taken again.
    _write(path, {H1: doc[H1]})
    clock.now = 60
    with pytest.raises(AuthError, match="not an organization of this consortium"):
        _check(trust, h2.member("h2-clinician-1", "clinician"))


# -- starting a store ---------------------------------------------------------------------------------------------
def _start(tmp_path: Path, *extra: str) -> int:
    args = ["--org-msp", H1, "--profile", str(tmp_path / "p.json"), "--identity", "h1-admin"]
    args += ["--data", str(tmp_path / "disk"), "--listen", "127.0.0.1:1", "--tls-cert", "c", "--tls-key", "k"]
    return store_main([*args, *extra])


def test_a_store_does_not_start_on_a_missing_or_damaged_trust_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    missing = tmp_path / "stores" / "trust.json"
    with caplog.at_level(logging.ERROR, logger="careledger_store"):
        assert _start(tmp_path, f"--trust-file={missing}") == 2
    assert f"record store of {H1} not started: the trust file {missing} does not exist: write it first" in caplog.text
    assert "careledger-network writes it" in caplog.text
    assert not (tmp_path / "disk").exists()  # stopped before anything else
    caplog.clear()
    damaged = tmp_path / "trust.json"
    damaged.write_text('{"Hospital1MSP": {"ca": ')
    with caplog.at_level(logging.ERROR, logger="careledger_store"):
        assert _start(tmp_path, f"--trust-file={damaged}") == 2
    assert f"the trust file {damaged} cannot be used: {damaged} is not JSON" in caplog.text
    assert "Fix or rewrite it" in caplog.text
    _write(damaged, {H1: {"ca": str(tmp_path / "gone.pem")}})  # the file is there, the CA it names is not
    with pytest.raises(TrustFileError, match=r"cannot be used: .*gone\.pem: No such file or directory"):
        TrustFile(damaged)


def test_a_trust_file_with_trust_or_crl_options_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trust_file = tmp_path / "trust.json"
    _write(trust_file, {H1: _entry(tmp_path, CA(H1))})
    for extra in (f"--trust={H1}={tmp_path / 'cas' / 'x.pem'}", f"--crl={H1}={tmp_path / 'crl.pem'}"):
        with pytest.raises(SystemExit) as info:
            _start(tmp_path, f"--trust-file={trust_file}", extra)
        assert info.value.code == 2
        assert "--trust-file names every organization's CA and CRL: give it alone" in capsys.readouterr().err


# -- the network writes the file and names it ----------------------------------------------------------------------
def test_the_store_command_names_a_trust_file_of_every_organization(tmp_path: Path) -> None:
    c = load()
    orgs = (c.orderer_org, *c.orgs)
    org = next(o for o in c.orgs if o.store_port)
    spec = store_spec(c, tmp_path, org)
    trust_file = store_trust_file(tmp_path)
    assert write_store_trust(c, tmp_path) == trust_file  # as Network.launch_stores does before a store starts
    assert f"--trust-file={trust_file}" in spec.command
    assert not [a for a in spec.command if a.startswith(("--trust=", "--crl="))]
    entries = read_trust_file(trust_file)
    assert len(orgs) >= 3
    assert set(entries) == {o.msp_id for o in orgs}
    for o in orgs:
        paths = crypto.org_paths(tmp_path, o)
        assert entries[o.msp_id].ca == paths.ca_cert.absolute()
        assert entries[o.msp_id].crl == (paths.msp / "crls" / "crl.pem").absolute()

    # What it writes is what a store reads: with each org's CA in its place, every org is trusted.
    issuers = {o.msp_id: CA(o.msp_id) for o in orgs}
    for o in orgs:
        crypto.org_paths(tmp_path, o).ca_cert.parent.mkdir(parents=True, exist_ok=True)
        crypto.org_paths(tmp_path, o).ca_cert.write_bytes(_pem(issuers[o.msp_id]))
    clock = Clock()
    trust = TrustFile(trust_file, clock=clock)
    for ca in issuers.values():
        _check(trust, ca.member("someone-1", "clinician"))

    # Unchanged, it is left as it is (running stores would re-read it for nothing); a consortium with one
    # organization fewer (or more) rewrites it, and a running store follows.
    stamp = trust_file.stat().st_ino, trust_file.stat().st_mtime_ns
    assert write_store_trust(c, tmp_path) == trust_file
    assert (trust_file.stat().st_ino, trust_file.stat().st_mtime_ns) == stamp
    last = c.orgs[-1]
    write_store_trust(dataclasses.replace(c, orgs=c.orgs[:-1]), tmp_path)
    assert set(read_trust_file(trust_file)) == {o.msp_id for o in orgs} - {last.msp_id}
    clock.now = 10
    with pytest.raises(AuthError, match="not an organization of this consortium"):
        _check(trust, issuers[last.msp_id].member("someone-1", "clinician"))
