"""python -m careledger_store: run one hospital's record store (gunicorn, TLS; see _serve.py).

--org-msp MSP        the custodian organization this store serves
--profile FILE       connection profile of that org; --identity LABEL: its wallet identity for ledger queries
--data DIR           where blobs are kept, or s3://bucket/prefix/ for an S3-compatible bucket
--s3-endpoint URL    the S3 endpoint (MinIO, Ceph, ...); AWS when omitted
--replica PLACE      keep every blob in a second place too (a folder or s3://bucket/prefix/): an upload is
                     acknowledged once both hold it; a read the primary fails is served from the replica,
                     which repairs the primary (see _replicas.py)
--replica-endpoint URL  the S3 endpoint of the replica (default: --s3-endpoint)
--listen HOST:PORT   --tls-cert FILE  --tls-key FILE
--trust-file FILE    whom to trust: a JSON file {"MSP": {"ca": "ca.pem", "crl": "crl.pem"}, ...} naming every
                     consortium organization's CA certificate and (optionally) where its CA's CRL is kept;
                     relative paths are from the file's folder. Looked at every 5 s while running: an
                     organization added is trusted within seconds, one removed no longer is, no restart. A
                     file damaged while running is logged and the trust before it kept; missing or damaged
                     at start, the store does not start (exit 2). Each CRL is re-read every 30 s (at once
                     for an organization just added); a CRL file that does not exist yet means nothing revoked.
                     careledger-network writes it (<state>/stores/trust.json, specs.write_store_trust).
--trust MSP=CA.pem   (repeat) the CA certificate of every consortium organization, fixed at start
--crl MSP=CRL.pem    (repeat) where each organization's CA CRL is kept; re-read every 30 s, a missing
                     file means nothing revoked yet. --trust/--crl and --trust-file exclude each other:
                     the trust file is the whole list, so combining them is refused
--threads N          requests served at once (32); --max-connections N: open connections at most (256)
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from careledger.connection import connect
from cryptography import x509

from ._blobs import BlobError
from ._crl import CrlFiles
from ._places import PlaceSpec, open_blobs
from ._serve import ServeOptions, StoreServer, WSGIApp
from ._server import StoreApp, StoreConfig
from ._trust import StaticTrust, Trust, TrustFile, TrustFileError

log = logging.getLogger("careledger_store")


def _pairs(parser: argparse.ArgumentParser, option: str, entries: list[str]) -> list[tuple[str, Path]]:
    pairs = []
    for entry in entries:
        msp, _, path = entry.partition("=")
        if not msp or not path:
            parser.error(f"{option} {entry!r}: expected MSP=path")
        pairs.append((msp, Path(path)))
    return pairs


def _static_trust(parser: argparse.ArgumentParser, trust: list[str], crl: list[str]) -> StaticTrust:
    """The trust of --trust/--crl: these organizations, for as long as the store runs."""
    trusted: dict[str, list[x509.Certificate]] = {}
    for msp, path in _pairs(parser, "--trust", trust):
        trusted.setdefault(msp, []).extend(x509.load_pem_x509_certificates(path.read_bytes()))
    crl_files = dict(_pairs(parser, "--crl", crl))
    if unknown := sorted(set(crl_files) - set(trusted)):
        parser.error(f"--crl for {', '.join(unknown)}: give its CA with --trust too")
    return StaticTrust(trusted, CrlFiles(crl_files, trusted))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m careledger_store", description=__doc__.split("\n")[0])
    parser.add_argument("--org-msp", required=True)
    parser.add_argument("--profile", type=Path, required=True)
    parser.add_argument("--identity", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--s3-endpoint")
    parser.add_argument("--replica")
    parser.add_argument("--replica-endpoint")
    parser.add_argument("--listen", required=True)
    parser.add_argument("--tls-cert", type=Path, required=True)
    parser.add_argument("--tls-key", type=Path, required=True)
    parser.add_argument(
        "--trust-file",
        type=Path,
        help='JSON {"MSP": {"ca": "ca.pem", "crl": "crl.pem"}, ...}, looked at every 5 s while running '
        "(organizations added or removed without a restart); not with --trust/--crl",
    )
    parser.add_argument("--trust", action="append", default=[], help="MSP=path/to/ca.pem (fixed at start)")
    parser.add_argument("--crl", action="append", default=[], help="MSP=path/to/crl.pem (with --trust)")
    parser.add_argument("--channel", default="careledger")
    parser.add_argument("--chaincode", default="careledger")
    parser.add_argument("--threads", type=int, default=32)
    parser.add_argument("--max-connections", type=int, default=256)
    args = parser.parse_args(argv)
    if not 1 <= args.threads < args.max_connections:
        parser.error("--threads must be at least 1 and below --max-connections (kept-alive connections need room)")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    if args.trust_file and (args.trust or args.crl):
        parser.error("--trust-file names every organization's CA and CRL: give it alone, without --trust/--crl")
    if args.trust_file:
        try:  # loaded here, before gunicorn forks the worker: a store that cannot trust anyone does not start
            trust: Trust = TrustFile(args.trust_file)
        except TrustFileError as exc:
            log.error("record store of %s not started: %s", args.org_msp, exc)
            return 2
    else:
        trust = _static_trust(parser, args.trust, args.crl)
    primary = PlaceSpec(args.data, args.s3_endpoint)
    replica = PlaceSpec(args.replica, args.replica_endpoint or args.s3_endpoint) if args.replica else None
    try:  # a missing bucket or an unreachable endpoint stops the store before it serves anyone
        open_blobs(primary, replica, check=True)
    except BlobError as exc:
        log.error("record store of %s not started: %s", args.org_msp, exc)
        return 2

    def build() -> tuple[WSGIApp, Callable[[], None]]:
        # In the worker process, after gunicorn forked it: the gRPC channel and the S3 client are its own.
        gateway = connect(args.profile, args.identity)
        contract = gateway.network(args.channel).contract(args.chaincode)
        blobs = open_blobs(primary, replica)
        swept = blobs.sweep_incomplete()
        config = StoreConfig(
            org_msp=args.org_msp,
            blobs=blobs,
            trust=trust,
            evaluate=lambda fn, fn_args: contract.evaluate_transaction(fn, *fn_args),
        )
        log.info(
            "record store of %s on https://%s, blobs in %s (removed %d incomplete uploads)",
            args.org_msp,
            args.listen,
            blobs,
            swept,
        )
        return StoreApp(config), gateway.close

    options = ServeOptions(
        listen=args.listen,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        threads=args.threads,
        max_connections=args.max_connections,
        name=f"careledger-store-{args.org_msp}",
    )
    StoreServer(build, options).run()  # returns by SystemExit once SIGTERM has stopped it
    return 0


if __name__ == "__main__":
    sys.exit(main())
