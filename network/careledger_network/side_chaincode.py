"""Another chaincode beside CareLedger's on the same channel, run as a service: a package for each
organization, a server per organization (python -m MODULE on the org's port_base + port_offset), and one
or more definitions (name, endorsement policy, collections) approved by every organization and committed.

The gateway conformance tests deploy the scenario chaincode this way. Deploying is idempotent: what is
installed, running or committed already is left as it is. A definition cannot be removed from a channel:
deploy test chaincodes on test networks only.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from careledger._files import write_atomic

from . import generate, specs
from .consortium import Org
from .fabric_cli import ChaincodeDefinition

if TYPE_CHECKING:
    from .network import Network


@dataclass(frozen=True)
class SideDefinition:
    name: str
    signature_policy: str = ""  # "" keeps the channel's default endorsement policy
    collections: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class SideChaincode:
    module: str  # `python -m module` serves it (CHAINCODE_ID, CHAINCODE_SERVER_ADDRESS, CHAINCODE_TLS_*)
    label: str  # package label prefix and process name prefix
    port_offset: int  # its server listens on each org's port_base + port_offset
    env: Callable[[Org], dict[str, str]] = lambda org: {}

    def port(self, org: Org) -> int:
        return org.port_base + self.port_offset


def deploy(network: Network, side: SideChaincode, definitions: Sequence[SideDefinition]) -> dict[str, str]:
    """Install, start and define `side` on the network's channel; returns each org's package id."""
    c, cli = network.c, network.cli
    package_ids: dict[str, str] = {}
    servers = []
    for org in c.orgs:
        package, package_id = generate.ccaas_package(
            network.state, org, f"{side.label}_{org.key}", f"{org.host}:{side.port(org)}"
        )
        for peer in org.peers:
            cli.install(org, peer, package, package_id)
        package_ids[org.key] = package_id
        name = f"{side.label}-{org.key}"
        env = side.env(org)
        servers.append(
            specs.chaincode_server_spec(c, network.state, org, name, side.module, package_id, env, side.port(org))
        )

    def start(started: list[str]) -> None:
        network.launcher.launch(servers, started)

    network.launcher.run_steps(start)
    for definition in definitions:
        if cli.committed(c.orgs[0], definition.name) is not None:
            continue
        collections = None
        if definition.collections:
            collections = network.state / "chaincode" / f"{side.label}-{definition.name}-collections.json"
            write_atomic(collections, json.dumps(definition.collections, indent=2).encode())
        approved = ChaincodeDefinition(definition.name, "1.0", 1, definition.signature_policy, collections)
        for org in c.orgs:
            cli.approve(org, package_ids[org.key], approved)
        cli.commit(approved)
        network.launcher.step(f"{definition.name} defined on {c.channel} ({side.label}, sequence 1)")
    return package_ids
