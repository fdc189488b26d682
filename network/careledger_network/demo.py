"""`make demo`: with the network up, show who is who and a transaction crossing the consortium."""

from __future__ import annotations

import json
import sys
import time
import uuid

from careledger.connection import connect
from careledger.errors import CareLedgerError, GatewayError

from .consortium import load
from .network import Network
from .paths import state_dir


def main() -> int:
    consortium = load()
    net = Network(consortium, state_dir())
    if not net.is_running():
        print("the network is not running: `make network-up` first", file=sys.stderr)
        return 1
    profiles = net.state / "profiles"
    print(f"\nConsortium: channel {consortium.channel}, chaincode {consortium.chaincode_name}")
    try:
        for org in consortium.orgs:
            for user in [org.admin, *(u.id for u in org.users)]:
                with connect(profiles / f"{org.key}.json", user) as gateway:
                    contract = gateway.network(consortium.channel).contract(consortium.chaincode_name)
                    who = json.loads(contract.evaluate_transaction("WhoAmI"))
                print(f"  {who['org']:<20} {who['member_id']:<36} role={who['role']}")
        key = f"demo-{uuid.uuid4().hex[:8]}"
        first, last = consortium.orgs[0], consortium.orgs[-1]
        with connect(profiles / f"{first.key}.json", first.admin) as gateway:  # the diag contract: admins only
            contract = gateway.network(consortium.channel).contract(consortium.chaincode_name, "diag")
            started = time.perf_counter()
            transaction = contract.new_proposal("Put", [key, "hello from " + first.name]).endorse()
            status = transaction.submit().raise_for_status()
            elapsed = (time.perf_counter() - started) * 1000
        print(
            f"\nSubmitted {key} through {first.name}'s gateway: endorsed by "
            f"{', '.join(transaction.endorser_msp_ids)}, "
            f"committed in block {status.block_number} ({elapsed:.0f} ms)"
        )
        with connect(profiles / f"{last.key}.json", last.admin) as gateway:
            contract = gateway.network(consortium.channel).contract(consortium.chaincode_name, "diag")
            print(f"Read back through {last.name}'s gateway: {contract.evaluate_transaction('Get', key).decode()!r}")
    except (CareLedgerError, GatewayError) as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1
    print("\nProcesses (make network-status):")
    for row in net.status():
        print(f"  {row['name']:<22} pid {row['pid']:<8} {row['health']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
