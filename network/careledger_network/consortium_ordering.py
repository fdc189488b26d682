"""Which organizations order, under which consensus: parsed and checked here, once (consortium.py calls it).

Raft (etcdraft, crash fault tolerant): every orderer is the orderer org's. SmartBFT (Fabric 3's BFT):
3f+1 orderers tolerate f faulty ones, spread over organizations so that none orders alone (see bft.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import ConsortiumError

if TYPE_CHECKING:
    from .consortium import Consortium

__all__ = ["BFT", "BFT_MIN_ORDERERS", "RAFT", "check_ordering", "org_orderers"]

RAFT, BFT = "raft", "bft"
BFT_MIN_ORDERERS = 4  # 3f+1 with f=1


def org_orderers(value: Any, consensus: str, where: str) -> int:
    """How many orderers an application organization runs: none under Raft, a few under BFT."""
    if value in (0, None):
        return 0
    if consensus != BFT:
        raise ConsortiumError(
            f"{where}.orderers: application organizations run orderers only with channel.consensus: {BFT} "
            f"(under {RAFT} every orderer is orderer_org's); remove it or set channel.consensus: {BFT}"
        )
    if not isinstance(value, int) or not 0 <= value <= 3:
        raise ConsortiumError(f"{where}.orderers: {value!r} must be an integer from 0 to 3")
    return value


def check_ordering(c: Consortium) -> None:
    """BFT needs 3f+1 orderers, and no organization may run more than f of them: otherwise that one
    organization, failing or misbehaving, could stop or steer ordering alone."""
    if c.consensus != BFT:
        return
    n = len(c.orderers)
    if n < BFT_MIN_ORDERERS:
        raise ConsortiumError(
            f"channel.consensus: {BFT} needs at least {BFT_MIN_ORDERERS} orderers (3f+1 with f=1) and the "
            f"consortium has {n}: set orderer_org.orderers: 1 and orderers: 1 on each application organization"
        )
    tolerated = (n - 1) // 3
    for org in c.ordering_orgs:
        runs = len(c.orderers_of(org))
        if runs > tolerated:
            field_name = "orderer_org.orderers" if org is c.orderer_org else f"orgs[{c.orgs.index(org)}].orderers"
            raise ConsortiumError(
                f"{field_name}: {org.name} runs {runs} of the {n} BFT orderers, which tolerate only "
                f"{tolerated} faulty; give each organization at most {tolerated} (spread them across organizations)"
            )
