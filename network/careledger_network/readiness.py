"""Readiness: a submit through a gateway is endorsed by a majority of orgs and commits.

Processes can be healthy long before that: the gateway needs gossip to have found the other orgs'
peers before it can satisfy the endorsement policy. So readiness is tested, not assumed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from careledger.connection import connect
from careledger.errors import GatewayError

from . import bft, crypto
from .consortium import BFT, Consortium, Org
from .health import wait_raft_leader

# gRPC statuses that mean "not yet": peers still starting or finding each other (the gateway answers
# FAILED_PRECONDITION or UNAVAILABLE while no combination of peers satisfies the endorsement policy), or a
# stream cut while an orderer or peer restarts. Anything else is a real error and is raised at once.
NOT_YET = frozenset({"UNAVAILABLE", "FAILED_PRECONDITION", "DEADLINE_EXCEEDED", "CANCELLED", "ABORTED"})


def wait_ordering(c: Consortium, state: Path, client_pair_for: Callable[[Org], tuple[Path, Path]]) -> str:
    """Wait until the orderers can order the channel; returns what was seen. Raft: one orderer reports
    itself leader. BFT: a quorum of orderers report the same leader with the whole cluster (a leader alone
    orders nothing: every block needs a quorum's votes). `client_pair_for(org)`: an admin's TLS pair of
    the org running an orderer, which its /metrics asks for."""
    if c.consensus == BFT:
        leader = bft.wait_bft_leader(c, state, client_pair_for)
        n = len(c.orderers)
        return f"BFT leader (consenter {leader}) agreed by at least {bft.quorum(n)} of {n} orderers"
    urls = [f"https://{o.host}:{o.operations_port}/metrics" for o in c.orderers]
    oo = c.orderer_org
    wait_raft_leader(urls, c.channel, crypto.org_paths(state, oo).ca_cert, client_pair_for(oo))
    return "Raft leader elected"


def wait_ready(consortium: Consortium, state: Path, org: Org, timeout: float = 90.0) -> list[str]:
    """Submit diag:Put through `org`'s gateway until it commits; returns the endorsing MSP ids."""
    profile = state / "profiles" / f"{org.key}.json"
    deadline = time.monotonic() + timeout
    last = ""
    with connect(profile, org.admin) as gateway:
        contract = gateway.network(consortium.channel).contract(consortium.chaincode_name, "diag")
        while time.monotonic() < deadline:
            try:
                transaction = contract.new_proposal("Put", ["readiness", str(time.time())]).endorse(timeout=10)
                transaction.submit().raise_for_status(timeout=30)
                return transaction.endorser_msp_ids
            except GatewayError as exc:
                last = str(exc)
                if exc.grpc_status not in NOT_YET:
                    raise
            time.sleep(0.2)
    raise TimeoutError(f"the network did not become ready within {timeout:.0f} s; last error: {last}")


def record_settings(consortium: Consortium, state: Path, org: Org) -> None:
    """Put the consortium's settings a chaincode decision needs on the ledger (SetConsortium is a no-op
    once they are there)."""
    settings = json.dumps({"authority_msp": consortium.authority_msp})
    with connect(state / "profiles" / f"{org.key}.json", org.admin) as gateway:
        gateway.network(consortium.channel).contract(consortium.chaincode_name).submit_transaction(
            "SetConsortium", settings
        )


def migrate_state(
    consortium: Consortium, state: Path, org: Org, batch: int = 200, rescan: bool = False
) -> tuple[int, int]:
    """Run the chaincode's Migrate as `org`'s admin until the ledger is in the current layout.

    Returns (keys moved, transactions). A ledger already in the current layout takes one call."""
    moved = calls = 0
    with connect(state / "profiles" / f"{org.key}.json", org.admin) as gateway:
        contract = gateway.network(consortium.channel).contract(consortium.chaincode_name)
        while True:
            result = json.loads(contract.submit_transaction("Migrate", str(batch), "yes" if rescan else ""))
            rescan = False
            moved, calls = moved + int(result["moved"]), calls + 1
            if result["done"]:
                return moved, calls
