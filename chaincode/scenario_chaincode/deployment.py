"""What deploying the scenario chaincode on CareLedger's channel takes: the organizations standing in for
the scenarios' Org1MSP, Org2MSP and Org3MSP, the three chaincode definitions with their endorsement
policies, and the private data collections of the "private" definition.

`python -m scenario_chaincode.deployment` prints them as JSON (collections under each definition in the
form `peer lifecycle chaincode approveformyorg --collections-config` reads).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

# Private data written by the scenarios stays on the peers this many blocks. The official fixture keeps
# the single-org collections 3 blocks only; CareLedger's channel also carries other traffic, so 3 blocks
# could pass between a scenario's write and its read, purging the value and failing the read.
SCENARIO_BLOCK_TO_LIVE = 1000


@dataclass(frozen=True)
class OrgMapping:
    """Which of our organizations plays each scenario organization (Org1 is the gateway's own)."""

    org1: str = "Hospital1MSP"
    org2: str = "Hospital2MSP"
    org3: str = "HealthAuthorityMSP"

    def translate(self, text: str) -> str:
        """A feature's text (step arguments, expected answers) with our MSP ids in place of theirs."""
        for theirs, ours in (("Org1MSP", self.org1), ("Org2MSP", self.org2), ("Org3MSP", self.org3)):
            text = text.replace(theirs, ours)
        return text


@dataclass(frozen=True)
class Definition:
    name: str
    signature_policy: str
    collections: list[dict[str, Any]] = field(default_factory=list)


def _members(*msp_ids: str) -> str:
    return ", ".join(f"'{m}.member'" for m in msp_ids)


def collections_config(orgs: OrgMapping) -> list[dict[str, Any]]:
    """The three collections the private data scenarios write and read."""
    return [
        {
            # Held by Org1 and Org3. One other member peer must receive each write before the endorsement
            # returns: with one peer per organization that is the other member, so the value is there
            # when a scenario reads it through the other organization's peer straight after.
            "name": "SharedCollection",
            "policy": f"OR({_members(orgs.org1, orgs.org3)})",
            "requiredPeerCount": 1,
            "maxPeerCount": 1,
            "blockToLive": 1000000,
            "memberOnlyRead": True,
            "memberOnlyWrite": True,
        },
        {
            # Org2's clients may write (not read): the collection's own endorsement policy makes Org1 endorse.
            "name": "Org1Collection",
            "policy": f"OR({_members(orgs.org1)})",
            "requiredPeerCount": 0,
            "maxPeerCount": 1,
            "blockToLive": SCENARIO_BLOCK_TO_LIVE,
            "memberOnlyRead": True,
            "memberOnlyWrite": False,
            "endorsementPolicy": {"signaturePolicy": f"OR({_members(orgs.org1)})"},
        },
        {
            # Anyone may read through an Org3 peer; only Org3 may endorse writes.
            "name": "Org3Collection",
            "policy": f"OR({_members(orgs.org3)})",
            "requiredPeerCount": 0,
            "maxPeerCount": 1,
            "blockToLive": SCENARIO_BLOCK_TO_LIVE,
            "memberOnlyRead": False,
            "memberOnlyWrite": False,
            "endorsementPolicy": {"signaturePolicy": f"OR({_members(orgs.org3)})"},
        },
    ]


def definitions(orgs: OrgMapping) -> list[Definition]:
    """One chaincode package, three definitions named as the features name their chaincodes."""
    everyone = (orgs.org1, orgs.org2, orgs.org3)
    return [
        Definition("basic", f"AND({_members(orgs.org1, orgs.org2)})"),
        Definition("private", f"OR({_members(*everyone)})", collections_config(orgs)),
        Definition("errors", f"AND({_members(*everyone)})"),
    ]


def main() -> int:
    doc = [
        {"name": d.name, "signature_policy": d.signature_policy, "collections": d.collections}
        for d in definitions(OrgMapping())
    ]
    print(json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
