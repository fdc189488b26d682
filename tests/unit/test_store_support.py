"""Support for the record-store tests (no tests here): a throw-away PKI made with `cryptography`, a fake
ledger for the store's own ledger questions, and the real gunicorn-served store in a subprocess.

Run as `python -m tests.unit.test_store_support CONFIG.json`, it serves a store as described by CONFIG.
"""

from __future__ import annotations

import datetime
import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from careledger._signing import SigningIdentity
from careledger_store import PlaceSpec
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from .local_tls import free_port, write_tls_pair

REPO = Path(__file__).resolve().parents[2]
_ATTRS_OID = x509.ObjectIdentifier("1.2.3.4.5.6.7.8.1")
_NOW = datetime.datetime.now(datetime.UTC)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclass
class CA:
    """One organization's CA: issues members' certificates (with Fabric CA's attribute extension) and CRLs."""

    msp_id: str
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    cert: x509.Certificate = field(init=False)

    def __post_init__(self) -> None:
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(_name(f"ca.{self.msp_id}"))
            .issuer_name(_name(f"ca.{self.msp_id}"))
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(_NOW - datetime.timedelta(days=1))
            .not_valid_after(_NOW + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )

    def member(
        self, member_id: str, role: str, msp_id: str | None = None, days: tuple[int, int] = (-1, 30)
    ) -> SigningIdentity:
        """An identity of this CA; `msp_id` lets it claim another MSP (as a forger would)."""
        key = ec.generate_private_key(ec.SECP256R1())
        attrs = json.dumps({"attrs": {"role": role, "member_id": member_id, "hf.EnrollmentID": member_id}})
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(member_id))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(_NOW + datetime.timedelta(days=days[0]))
            .not_valid_after(_NOW + datetime.timedelta(days=days[1]))
            .add_extension(x509.UnrecognizedExtension(_ATTRS_OID, attrs.encode()), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        return SigningIdentity(msp_id or self.msp_id, _pem(cert), key)

    def crl(self, *revoked: SigningIdentity) -> bytes:
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.cert.subject)
            .last_update(_NOW - datetime.timedelta(minutes=1))
            .next_update(_NOW + datetime.timedelta(days=1))
        )
        for identity in revoked:
            entry = x509.RevokedCertificateBuilder().serial_number(identity.certificate.serial_number)
            builder = builder.add_revoked_certificate(entry.revocation_date(_NOW).build())
        return builder.sign(self.key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


class StoreProcess:
    """The store, served by gunicorn in a subprocess, with a fake ledger read from `ledger.json`. It trusts
    `cas` as --trust/--crl give them, or, given `trust_file`, whom that file names (re-read while running)."""

    def __init__(
        self,
        root: Path,
        cas: list[CA],
        org_msp: str = "Hospital1MSP",
        replica: PlaceSpec | None = None,
        trust_file: Path | None = None,
        **options: Any,
    ) -> None:
        self.root, self.port = root, free_port()
        self.cert, key = write_tls_pair(root, "tls")
        self.ledger_file, self.log_file = root / "ledger.json", root / "store.log"
        self.crl_files = {ca.msp_id: root / f"{ca.msp_id}.crl.pem" for ca in cas}
        for ca in cas:
            (root / f"{ca.msp_id}.ca.pem").write_bytes(_pem(ca.cert))
        self.set_ledger({})
        config = {
            "org_msp": org_msp,
            "listen": f"127.0.0.1:{self.port}",
            "tls_cert": str(self.cert),
            "tls_key": str(key),
            "trust": {ca.msp_id: str(root / f"{ca.msp_id}.ca.pem") for ca in cas},
            "crl": {msp: str(path) for msp, path in self.crl_files.items()},
            "trust_file": str(trust_file) if trust_file else None,
            "blobs": str(root / "blobs"),
            "replica": asdict(replica) if replica else None,  # a second place for every blob
            "ledger": str(self.ledger_file),
            "options": options,
        }
        (root / "store.json").write_text(json.dumps(config))
        with self.log_file.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tests.unit.test_store_support", str(root / "store.json")],
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.context = ssl.create_default_context(cafile=str(self.cert))
        deadline = time.monotonic() + 20
        while True:
            try:
                if self.request("GET", "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the store did not start:\n{self.log()}")
            time.sleep(0.1)

    def set_ledger(self, ledger: dict[str, Any]) -> None:
        tmp = self.ledger_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(ledger))
        tmp.replace(self.ledger_file)

    def log(self) -> str:
        return self.log_file.read_text(errors="replace")

    def connect(self, timeout: float = 10.0) -> ssl.SSLSocket:
        raw = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        return self.context.wrap_socket(raw, server_hostname="127.0.0.1")

    def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=10, context=self.context)
        try:
            conn.request(method, path, body=body, headers={"Content-Length": str(len(body)), **(headers or {})})
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()

    def stop(self, timeout: float = 15.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise


# -- the served side ------------------------------------------------------------------------------------------------
def fake_evaluate(ledger_file: Path) -> Any:
    """The store's ledger questions answered from a JSON file the test writes:
    {"records": {id: record, ...}, "visible_after": {id: epoch seconds}, "verdicts": {tx: {ledger_id: {id: verdict}}}}.
    Every question is appended to <ledger_file>.calls, so a test can see what the store asked."""
    from careledger.errors import REFUSALS, GatewayError

    def refuse(code: str, text: str) -> GatewayError:
        return REFUSALS[code](f"evaluate failed: {code}: {text}", reason=text)

    def evaluate(function: str, args: list[str]) -> bytes:
        ledger = json.loads(ledger_file.read_text())
        with ledger_file.with_suffix(".calls").open("a") as calls:
            calls.write(json.dumps([function, *args]) + "\n")
        if function == "GetRecord":
            record = ledger.get("records", {}).get(args[0])
            if record is None or time.time() < ledger.get("visible_after", {}).get(args[0], 0):
                raise refuse("NOT_FOUND", f"record {args[0]} does not exist")
            if record.get("custodian") != ledger.get("viewer_msp", "Hospital1MSP"):
                raise refuse("NOT_AUTHORIZED", "the store's admin may not see that record")
            return json.dumps(record).encode()
        none = {"granted": False, "reason": "that transaction was made by another requester"}
        if function == "VerifyAccess":
            tx, who, record_id = args
            verdict = ledger.get("verdicts", {}).get(tx, {}).get(who, {}).get(record_id, none)
            return json.dumps(verdict).encode()
        if function == "VerifyAccessBatch":
            tx, who, ids = args
            mine = ledger.get("verdicts", {}).get(tx, {}).get(who, {})
            return json.dumps({"verdicts": {r: mine.get(r, none) for r in json.loads(ids)}}).encode()
        raise refuse("INVALID_ARGUMENT", f"the fake ledger does not know {function}")

    return evaluate


def serve(config_path: Path) -> None:
    import logging

    from careledger_store._crl import CrlFiles
    from careledger_store._places import open_blobs
    from careledger_store._serve import ServeOptions, StoreServer
    from careledger_store._server import StoreApp, StoreConfig
    from careledger_store._trust import StaticTrust, Trust, TrustFile

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = json.loads(config_path.read_text())
    trusted = {msp: x509.load_pem_x509_certificates(Path(p).read_bytes()) for msp, p in config["trust"].items()}
    crls = {msp: Path(p) for msp, p in config["crl"].items()}
    options = dict(config["options"])
    crl_refresh = options.pop("crl_refresh", 0.2)
    trust: Trust
    if config.get("trust_file"):  # loaded before the fork, as python -m careledger_store does
        trust = TrustFile(
            Path(config["trust_file"]), interval=options.pop("trust_refresh", 0.2), crl_interval=crl_refresh
        )
    else:
        trust = StaticTrust(trusted, CrlFiles(crls, trusted, interval=crl_refresh))

    replica = PlaceSpec(**config["replica"]) if config.get("replica") else None

    def build() -> Any:
        store = StoreConfig(
            org_msp=config["org_msp"],
            blobs=open_blobs(PlaceSpec(config["blobs"]), replica),
            trust=trust,
            evaluate=fake_evaluate(Path(config["ledger"])),
        )
        return StoreApp(store), lambda: logging.getLogger("careledger_store").info("worker closed its gateway")

    serve_options = ServeOptions(
        listen=config["listen"], tls_cert=Path(config["tls_cert"]), tls_key=Path(config["tls_key"]), **options
    )
    StoreServer(build, serve_options).run()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    serve(Path(sys.argv[1]))
