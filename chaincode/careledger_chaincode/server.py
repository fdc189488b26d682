"""Entry point of the chaincode server process (one per organization), configured by environment:

CHAINCODE_ID               the package id the peer knows this chaincode by (label:hash)
CHAINCODE_SERVER_ADDRESS   host:port to listen on
CHAINCODE_TLS_CERT, CHAINCODE_TLS_KEY, CHAINCODE_TLS_CLIENT_CA
                           server certificate, its key, and the CA that issued the peers' client
                           certificates; all three or none (none = plaintext, for unit tests only)
CHAINCODE_LOG_LEVEL        default INFO; transaction data is never logged at any level
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path

from . import __version__
from .contracts import all_contracts
from .runtime import ChaincodeServer, Router, TLSFiles


def main() -> int:
    logging.basicConfig(
        level=os.environ.get("CHAINCODE_LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        chaincode_id = os.environ["CHAINCODE_ID"]
        address = os.environ["CHAINCODE_SERVER_ADDRESS"]
    except KeyError as exc:
        print(
            f"careledger-chaincode: set {exc.args[0]} (see `python -m careledger_chaincode.server --help`)",
            file=sys.stderr,
        )
        return 2
    tls_vars = [os.environ.get(v, "") for v in ("CHAINCODE_TLS_CERT", "CHAINCODE_TLS_KEY", "CHAINCODE_TLS_CLIENT_CA")]
    if any(tls_vars) and not all(tls_vars):
        print(
            "careledger-chaincode: set all of CHAINCODE_TLS_CERT, _KEY and _CLIENT_CA, or none",
            file=sys.stderr,
        )
        return 2
    tls = TLSFiles(*(Path(v) for v in tls_vars)) if all(tls_vars) else None
    router = Router(all_contracts(), title="careledger", version=__version__)
    server = ChaincodeServer(chaincode_id, address, router, tls)
    server.start()

    # Handlers first, then the line that tells a launcher the server is up: a stop sent on seeing it must
    # find them in place (else SIGTERM kills the process mid-stream).
    server.stop_on_signals(signal.SIGTERM, signal.SIGINT)
    logging.getLogger("careledger.chaincode").info(
        "serving %s on %s (%s)", chaincode_id.split(":")[0], address, "mutual TLS" if tls else "plaintext"
    )
    server.wait()
    return 0


if __name__ == "__main__":
    if "--help" in sys.argv:
        print(__doc__)
        sys.exit(0)
    sys.exit(main())
