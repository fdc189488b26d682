"""SmartBFT ordering (Fabric 3's `BFT` consensus type), chosen by `channel.consensus: bft`.

The model: 3f+1 orderers spread across organizations so that no organization orders alone, e.g. four
(f=1), one each run by OrdererOrg, Hospital1, Hospital2 and HealthAuthority. Each orderer belongs to the
MSP of the organization that runs it: that organization's CA issues its enrollment (OU `orderer`) and TLS
certificates, its admin joins it to the channel (osnadmin), and its MSP signs the blocks it co-signs.

On the channel:
- Orderer.OrdererType `BFT` and Orderer.ConsenterMapping: per orderer a consenter id (1..n, its place in
  the consortium's orderer list, so stable while the list only grows), host and port, MSP id, the
  enrollment certificate it signs with (Identity) and its TLS certificate (client and server).
  configtxgen turns the mapping into the Orderer group's `Orderers` value (the consenter set the orderers
  read) and replaces Orderer/BlockValidation with a signature policy over those identities needing a BFT
  quorum, ceil((n+f+1)/2) = 3 of 4: a peer accepts a block only with that many orderer signatures.
- Every organization that runs an orderer is an organization of the Orderer group too, with its own
  orderers as OrdererEndpoints (one delivery endpoint per consenter, as Fabric recommends for BFT). Its
  Readers and Writers there are its orderers; Orderer/Admins is then a majority of four organizations'
  admins, so no organization changes the ordering service alone either.

Clients need nothing of their own: the peer's gateway sees the BFT consensus type in the channel config
and broadcasts each transaction to every orderer, succeeding once a quorum accepted it; peers pull blocks
with the BFT deliverer (core.yaml peer.deliveryclient.policy `cluster`, Fabric's default), which checks
block signatures and switches source when one orderer withholds blocks.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .consortium import BFT, Consortium, Orderer, Org
from .crypto import org_paths
from .health import metrics


@dataclass(frozen=True)
class Consenter:
    """One orderer as the channel's ConsenterMapping names it."""

    id: int
    orderer: Orderer
    identity: Path  # the enrollment certificate its blocks' signatures verify against
    tls_cert: Path  # presented both as a cluster client and as a server


def consenters(c: Consortium, state: Path) -> list[Consenter]:
    """Every orderer with its consenter id: its 1-based place in the consortium's orderer list."""
    mapping = []
    for number, orderer in enumerate(c.orderers, start=1):
        node = org_paths(state, c.org(orderer.msp_id)).node(orderer.name)
        mapping.append(Consenter(number, orderer, node / "msp" / "signcerts" / "cert.pem", node / "tls" / "server.crt"))
    return mapping


def tolerated_faults(n: int) -> int:
    return (n - 1) // 3


def quorum(n: int) -> int:
    """How many orderers must agree (sign a block, accept a broadcast): Fabric's ComputeBFTQuorum."""
    return math.ceil((n + tolerated_faults(n) + 1) / 2)


def consenter_mapping(c: Consortium, state: Path) -> list[dict[str, Any]]:
    """configtx.yaml's Orderer.ConsenterMapping (configtxgen reads the files the paths name)."""
    return [
        {
            "ID": m.id,
            "Host": m.orderer.host,
            "Port": m.orderer.port,
            "MSPID": m.orderer.msp_id,
            "Identity": str(m.identity),
            "ClientTLSCert": str(m.tls_cert),
            "ServerTLSCert": str(m.tls_cert),
        }
        for m in consenters(c, state)
    ]


def smartbft_options(c: Consortium) -> dict[str, Any]:
    """configtx.yaml's Orderer.SmartBFT. configtxgen takes all or nothing (a partial section leaves zeros),
    so every option is set: SmartBFT's defaults, except as noted. The batch size comes from BatchSize."""
    return {
        # The leader cuts a batch after this long, like Raft's BatchTimeout: the consortium's one setting.
        "RequestBatchMaxInterval": c.batch_timeout,
        "RequestForwardTimeout": "2s",
        "RequestComplainTimeout": "20s",
        "RequestAutoRemoveTimeout": "3m0s",
        "ViewChangeResendInterval": "5s",
        "ViewChangeTimeout": "20s",
        # A dead leader is noticed after LeaderHeartbeatTimeout; the 1 m default would stall the channel
        # that long when the leader's organization goes away. Followers complain after a tenth of it.
        "LeaderHeartbeatTimeout": "10s",
        "LeaderHeartbeatCount": 10,
        "CollectTimeout": "1s",
        "IncomingMessageBufferSize": 200,
        # Pending requests each orderer holds: above what 64 clients in flight and a full batch need.
        "RequestPoolSize": 10000,
        "SyncOnStart": True,  # a restarted orderer catches up from the others before it takes part
        "SpeedUpViewChange": False,
    }


def orderer_section(c: Consortium, state: Path) -> dict[str, Any]:
    """The BFT-specific keys of configtx.yaml's Orderer section."""
    return {"OrdererType": "BFT", "ConsenterMapping": consenter_mapping(c, state), "SmartBFT": smartbft_options(c)}


def orderer_org_policies(msp_id: str) -> dict[str, Any]:
    """An application organization's policies in the Orderer group: its orderers read and write there
    (replicating blocks, co-signing them), its admins administer it."""
    return {
        "Readers": {"Type": "Signature", "Rule": f"OR('{msp_id}.orderer', '{msp_id}.admin')"},
        "Writers": {"Type": "Signature", "Rule": f"OR('{msp_id}.orderer')"},
        "Admins": {"Type": "Signature", "Rule": f"OR('{msp_id}.admin')"},
    }


def wait_bft_leader(
    c: Consortium,
    state: Path,
    client_pair_for: Callable[[Org], tuple[Path, Path]],
    timeout: float = 30.0,
) -> int:
    """Wait until a quorum of orderers report the same BFT leader of the channel with the full cluster;
    returns that leader's consenter id. `client_pair_for(org)` gives an org admin's TLS pair: each
    orderer's /metrics asks for a client certificate its own organization's CA issued."""
    size = f'consensus_BFT_cluster_size{{channel="{c.channel}"}} {len(c.orderers)}'
    leader_prefix = f'consensus_BFT_leader_id{{channel="{c.channel}"}} '
    deadline = time.monotonic() + timeout
    while True:
        votes: dict[int, int] = {}
        for orderer in c.orderers:
            owner = c.org(orderer.msp_id)
            url = f"https://{orderer.host}:{orderer.operations_port}/metrics"
            try:
                text = metrics(url, org_paths(state, owner).ca_cert, client_pair_for(owner))
            except OSError:
                continue
            leader = _sample(text, leader_prefix)
            if size in text and leader:
                votes[leader] = votes.get(leader, 0) + 1
        agreed = [leader for leader, count in votes.items() if count >= quorum(len(c.orderers))]
        if agreed:
            return agreed[0]
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"no BFT leader of channel {c.channel} agreed by {quorum(len(c.orderers))} orderers within "
                f"{timeout:.0f} s (votes: {votes or 'none'})"
            )
        time.sleep(0.1)


def _sample(text: str, prefix: str) -> int:
    """The value of the Prometheus sample whose line starts with `prefix` (0 when absent)."""
    line = next((line for line in text.splitlines() if line.startswith(prefix)), "")
    return int(float(line[len(prefix) :])) if line else 0


def spread_orderers(doc: dict[str, Any]) -> dict[str, Any]:
    """A consortium document turned BFT: one orderer run by the orderer org and one by each application
    organization (the tests' and the benchmark's BFT network; a real consortium writes these keys)."""
    spread = copy.deepcopy(doc)
    spread["channel"]["consensus"] = BFT
    spread["orderer_org"]["orderers"] = 1
    for org in spread["orgs"]:
        org["orderers"] = 1
    return spread
