"""Entry point of the scenario chaincode server (one process per organization, beside CareLedger's own
chaincode server, never inside it: `crash` ends this process). Configured by environment, as
careledger_chaincode.server is, plus the peer's organization:

CHAINCODE_ID               the package id the peer knows this chaincode by (label:hash)
CHAINCODE_SERVER_ADDRESS   host:port to listen on (a port of its own, not CareLedger's chaincode port)
CHAINCODE_TLS_CERT, CHAINCODE_TLS_KEY, CHAINCODE_TLS_CLIENT_CA
                           server certificate, its key, and the CA that issued the peers' client
                           certificates; all three or none (none = plaintext, for local trials only)
CORE_PEER_LOCALMSPID       the MSP id of the peer this server endorses for (getPeerOrg, checkEndorsingOrg
                           and orgsFail answer with it); required
CHAINCODE_LOG_LEVEL        default INFO
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path

from careledger_chaincode.runtime import ChaincodeServer, TLSFiles

from .contract import scenario_router

PROGRAM = "scenario-chaincode"
TLS_VARIABLES = ("CHAINCODE_TLS_CERT", "CHAINCODE_TLS_KEY", "CHAINCODE_TLS_CLIENT_CA")


def main() -> int:
    if "--help" in sys.argv[1:]:
        print(__doc__)
        return 0
    missing = [v for v in ("CHAINCODE_ID", "CHAINCODE_SERVER_ADDRESS", "CORE_PEER_LOCALMSPID") if not os.environ.get(v)]
    if missing:
        print(f"{PROGRAM}: set {', '.join(missing)} (see `python -m scenario_chaincode --help`)", file=sys.stderr)
        return 2
    tls_values = [os.environ.get(v, "") for v in TLS_VARIABLES]
    if any(tls_values) and not all(tls_values):
        print(f"{PROGRAM}: set all of {', '.join(TLS_VARIABLES)}, or none", file=sys.stderr)
        return 2
    chaincode_id = os.environ["CHAINCODE_ID"]
    address = os.environ["CHAINCODE_SERVER_ADDRESS"]
    peer_msp = os.environ["CORE_PEER_LOCALMSPID"]
    tls = TLSFiles(*(Path(v) for v in tls_values)) if all(tls_values) else None
    # Configured only once the settings are known good: a refusal above leaves the caller's logging alone.
    logging.basicConfig(
        level=os.environ.get("CHAINCODE_LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    server = ChaincodeServer(chaincode_id, address, scenario_router(peer_msp), tls)
    server.start()

    # Handlers first, then the line that tells a launcher the server is up: a stop sent on seeing it
    # must find them in place.
    server.stop_on_signals(signal.SIGTERM, signal.SIGINT)
    logging.getLogger("careledger.scenario").info(
        "serving %s for %s on %s (%s)",
        chaincode_id.split(":")[0],
        peer_msp,
        address,
        "mutual TLS" if tls else "plaintext",
    )
    server.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
