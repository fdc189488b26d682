"""python -m careledger.store: run one hospital's record store.

--org-msp MSP        the custodian organization this store serves
--profile FILE       connection profile of that org; --identity LABEL: its wallet identity for ledger queries
--data DIR           where blobs are kept, or s3://bucket/prefix/ for an S3-compatible bucket
--s3-endpoint URL    the S3 endpoint (MinIO, Ceph, ...); AWS when omitted
--listen HOST:PORT   --tls-cert FILE  --tls-key FILE
--trust MSP=CA.pem   (repeat) the CA certificate of every consortium organization
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path
from types import FrameType

from cryptography import x509

from ..gateway import connect
from ._blobs import FileBlobStore, S3BlobStore
from ._server import StoreConfig, make_server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m careledger.store", description=__doc__.split("\n")[0])
    parser.add_argument("--org-msp", required=True)
    parser.add_argument("--profile", type=Path, required=True)
    parser.add_argument("--identity", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--s3-endpoint")
    parser.add_argument("--listen", required=True)
    parser.add_argument("--tls-cert", type=Path, required=True)
    parser.add_argument("--tls-key", type=Path, required=True)
    parser.add_argument("--trust", action="append", default=[], help="MSP=path/to/ca.pem")
    parser.add_argument("--channel", default="careledger")
    parser.add_argument("--chaincode", default="careledger")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    trusted: dict[str, list[x509.Certificate]] = {}
    for entry in args.trust:
        msp, _, path = entry.partition("=")
        if not path:
            parser.error(f"--trust {entry!r}: expected MSP=path/to/ca.pem")
        trusted.setdefault(msp, []).extend(x509.load_pem_x509_certificates(Path(path).read_bytes()))
    gateway = connect(args.profile, args.identity)
    contract = gateway.network(args.channel).contract(args.chaincode)
    blobs: FileBlobStore | S3BlobStore
    if args.data.startswith("s3://"):
        bucket, _, prefix = args.data[len("s3://") :].partition("/")
        blobs = S3BlobStore(bucket, prefix, endpoint_url=args.s3_endpoint)
    else:
        blobs = FileBlobStore(Path(args.data))
    swept = blobs.sweep_incomplete()
    config = StoreConfig(
        org_msp=args.org_msp,
        blobs=blobs,
        trusted_cas=trusted,
        evaluate=lambda fn, fn_args: contract.evaluate_transaction(fn, *fn_args),
    )
    host, _, port = args.listen.rpartition(":")
    server = make_server(config, host, int(port), args.tls_cert, args.tls_key)
    logging.getLogger("careledger.store").info(
        "record store of %s on https://%s (removed %d incomplete uploads)", args.org_msp, args.listen, swept
    )

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        gateway.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
