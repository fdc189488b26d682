"""The official fabric-gateway scenarios (docs/gateway-scenarios.md), as pytest tests against our network:
the scenario chaincode deployed beside CareLedger's under the names the features use (basic, private,
errors), and plain fabric_gateway clients (no CareLedger error mapping) for each organization's users."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from careledger import SigningIdentity, Wallet
from careledger_network import side_chaincode
from careledger_network.network import Network
from fabric_gateway import Contract, EndorseError, Gateway, Identity, signers, tls_channel
from scenario_chaincode.deployment import OrgMapping, definitions

pytestmark = pytest.mark.network

ORGS = OrgMapping()  # Org1 = Hospital1, Org2 = Hospital2, Org3 = HealthAuthority
SCENARIO = side_chaincode.SideChaincode(
    module="scenario_chaincode",
    label="scenario",
    port_offset=3,
    env=lambda org: {"CORE_PEER_LOCALMSPID": org.msp_id},
)
# A user of each scenario organization, and the block readers that may stream events on our network.
USERS = {
    "Org1": ("hospital1", "h1-clinician-1"),
    "Org2": ("hospital2", "h2-clinician-1"),
    "Org3": ("healthauthority", "ha-auditor-1"),
}
EVENT_READER = ("hospital1", "event-reader")


def run_id() -> str:
    return uuid.uuid4().hex[:10]


@dataclass
class Scenarios:
    network: Network

    def profile(self, org_key: str) -> dict[str, object]:
        doc: dict[str, object] = json.loads((self.network.state / "profiles" / f"{org_key}.json").read_text())
        return doc

    def wallet_identity(self, org_key: str, user: str) -> SigningIdentity:
        profile = self.profile(org_key)
        return Wallet(Path(profile["x-careledger"]["wallet"])).get(user)  # type: ignore[index]

    def gateway(self, org_key: str, user: str, *, signed: bool = True, peer_org: str = "") -> Gateway:
        """A plain fabric_gateway client of `user`, connected to its own org's peer (or `peer_org`'s)."""
        identity = self.wallet_identity(org_key, user)
        peer_profile = self.profile(peer_org or org_key)
        org = peer_profile["organizations"][peer_profile["client"]["organization"]]  # type: ignore[index]
        entry = peer_profile["peers"][org["peers"][0]]  # type: ignore[index]
        channel = tls_channel(entry["url"], entry["tlsCACerts"]["pem"].encode())
        sign = signers.for_private_key(identity.private_key) if signed else None
        return Gateway.connect(Identity(identity.msp_id, identity.certificate_pem), channel, sign=sign)

    def contract(self, org: str, chaincode: str, **options: object) -> Contract:
        org_key, user = USERS[org]
        return self.gateway(org_key, user, **options).network(self.network.c.channel).contract(chaincode)  # type: ignore[arg-type]

    def key(self, org: str) -> object:
        return self.wallet_identity(*USERS[org]).private_key

    def wait_until_serving(self, timeout: float = 60.0) -> None:
        """After a `crash` (or a first start) the servers come back under their supervisors."""
        deadline = time.monotonic() + timeout
        contract = self.contract("Org1", "errors")
        while True:
            try:
                contract.evaluate("echo", ["up"], endorsing_organizations=[ORGS.org1])
                contract.evaluate("echo", ["up"], endorsing_organizations=[ORGS.org2])
                contract.evaluate("echo", ["up"], endorsing_organizations=[ORGS.org3])
                return
            except EndorseError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)


@pytest.fixture(scope="session")
def scenarios(network: Network) -> Scenarios:
    side_chaincode.deploy(
        network,
        SCENARIO,
        [side_chaincode.SideDefinition(d.name, d.signature_policy, d.collections) for d in definitions(ORGS)],
    )
    found = Scenarios(network)
    found.wait_until_serving()
    return found


@pytest.fixture
def contract(scenarios: Scenarios) -> Callable[..., Contract]:
    return scenarios.contract
