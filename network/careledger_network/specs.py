"""The network's processes, as specifications: what each runs, with which environment, on which ports, and
where its health shows. Nothing here starts anything (see processes.py and network.py); write_store_trust
writes the record stores' trust file, which their command line names, before they start."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from careledger import write_atomic

from . import crypto, generate
from .consortium import Consortium, Orderer, Org, Peer
from .paths import REPO_ROOT, Fabric
from .store_places import store_places

# Fabric variables a user may have set would override our configs: the processes never inherit them.
_INHERITED_PREFIXES = (
    "CORE_",
    "ORDERER_",
    "FABRIC_CA_",
    "FABRIC_CFG_PATH",
    "FABRIC_LOGGING_SPEC",
    "CHAINCODE_",
)


@dataclass(frozen=True)
class ProcessSpec:
    name: str
    command: list[str]
    env: dict[str, str]
    ports: list[int]
    health_url: str
    ca_file: Path | None
    host: str = "127.0.0.1"  # where its ports listen (the org's host)


def base_env() -> dict[str, str]:
    """Our environment minus Fabric variables a user may have set, which would override our configs."""
    return {k: v for k, v in os.environ.items() if not k.startswith(_INHERITED_PREFIXES)}


def ca_spec(state: Path, fabric: Fabric, org: Org) -> ProcessSpec:
    paths = crypto.org_paths(state, org)
    command, env = crypto.ca_command(fabric, org.ca, paths)
    return ProcessSpec(
        name=f"ca-{org.key}",
        command=command,
        env={**base_env(), **env},
        ports=[org.ca.port, org.ca.operations_port],
        health_url=f"https://{org.ca.host}:{org.ca.operations_port}/healthz",
        ca_file=paths.ca_cert,
        host=org.ca.host,
    )


def _node(
    fabric: Fabric, state: Path, org: Org, node: Orderer | Peer, command: list[str], ports: list[int], log_spec: str
) -> ProcessSpec:
    """An orderer or peer: a Fabric binary reading its own config folder, healthy when its operations
    endpoint says so."""
    return ProcessSpec(
        name=node.name,
        command=[fabric.bin(command[0]), *command[1:]],
        env={
            **base_env(),
            "FABRIC_CFG_PATH": str(generate.node_config_dir(state, node.name)),
            "FABRIC_LOGGING_SPEC": log_spec,
        },
        ports=ports,
        health_url=f"https://{node.host}:{node.operations_port}/healthz",
        ca_file=crypto.org_paths(state, org).ca_cert,
        host=node.host,
    )


def node_specs(c: Consortium, state: Path, fabric: Fabric, orgs: tuple[Org, ...] | None = None) -> list[ProcessSpec]:
    """The orderers and peers of `orgs` (default: every organization)."""
    orgs = (c.orderer_org, *c.orgs) if orgs is None else orgs
    log_spec = c.tuning.get("log_spec", "info")
    specs = []
    for o in c.orderers:
        owner = c.org(o.msp_id)  # the orderer org's, or under BFT also an application org's
        if owner in orgs:
            ports = [o.port, o.admin_port, o.operations_port]
            specs.append(_node(fabric, state, owner, o, ["orderer"], ports, log_spec))
    for org in (o for o in c.orgs if o in orgs):
        for p in org.peers:
            ports = [p.port, p.chaincode_port, p.operations_port]
            specs.append(_node(fabric, state, org, p, ["peer", "node", "start"], ports, log_spec))
    return specs


def chaincode_spec(c: Consortium, state: Path, org: Org, package_id: str) -> ProcessSpec:
    """The org's server of CareLedger's chaincode."""
    env = {"CARELEDGER_AUTHORITY_MSP": c.authority_msp}
    return chaincode_server_spec(c, state, org, f"cc-{org.key}", c.chaincode_server_module, package_id, env)


def chaincode_server_spec(
    c: Consortium, state: Path, org: Org, name: str, module: str, package_id: str, env: dict[str, str], port: int = 0
) -> ProcessSpec:
    """A chaincode-as-a-service server (python -m `module`, kept alive by supervise) for the org's peers,
    on `port` (default: the org's chaincode port), with the org's chaincode TLS certificates."""
    cc = crypto.org_paths(state, org).chaincode
    pid_file = state / "run" / f"{name}.child"
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    port = port or org.chaincode_port
    return ProcessSpec(
        name=name,
        command=[
            sys.executable,
            "-m",
            "careledger_network.supervise",
            str(pid_file),
            "--",
            sys.executable,
            "-m",
            module,
        ],
        env={
            **base_env(),
            "CHAINCODE_ID": package_id,
            "CHAINCODE_SERVER_ADDRESS": f"{org.host}:{port}",
            "CHAINCODE_TLS_CERT": str(cc / "server.crt"),
            "CHAINCODE_TLS_KEY": str(cc / "server.key"),
            "CHAINCODE_TLS_CLIENT_CA": str(cc / "ca.crt"),
            "PYTHONUNBUFFERED": "1",
            **env,
        },
        ports=[port],
        health_url="",
        ca_file=None,
        host=org.host,
    )


def store_trust_file(state: Path) -> Path:
    """The record stores' trust file: one for every store of this state folder (they trust the same orgs)."""
    return state / "stores" / "trust.json"


def write_store_trust(c: Consortium, state: Path) -> Path:
    """Write the record stores' trust file (python -m careledger_store --trust-file) for every organization of
    `c`, the orderer org's and the application orgs': its CA certificate, and its CA's CRL where the Fabric MSP
    layout keeps it (msp/crls/; a file not there yet means nothing revoked). Running stores look at the file
    every few seconds, so call this with the consortium that includes a newly joined organization and every
    store trusts it without a restart.

    Paths are absolute and of this host: a bundle's host writes its own (its stores start there), from the
    same layout. Written atomically, and only when the content changed (an unchanged rewrite would only make
    every running store re-read it). Returns its path."""
    doc = {}
    for o in (c.orderer_org, *c.orgs):
        paths = crypto.org_paths(state, o)
        doc[o.msp_id] = {"ca": str(paths.ca_cert.absolute()), "crl": str((paths.msp / "crls" / "crl.pem").absolute())}
    data = (json.dumps(doc, indent=2) + "\n").encode()
    path = store_trust_file(state)
    try:
        unchanged = path.read_bytes() == data
    except FileNotFoundError:
        unchanged = False
    if not unchanged:
        write_atomic(path, data)
    return path


def store_spec(c: Consortium, state: Path, org: Org) -> ProcessSpec:
    paths = crypto.org_paths(state, org)
    places = store_places(state, org)  # the local folder, or per `record_store:` a replica too
    # Whom it trusts, in a file it re-reads while running (written before it starts: Network.launch_stores):
    # an organization that joins later is trusted once write_store_trust has rewritten it, with no restart.
    trust_file = store_trust_file(state)
    return ProcessSpec(
        name=f"store-{org.key}",
        command=[
            sys.executable,
            "-m",
            "careledger_store",
            f"--org-msp={org.msp_id}",
            f"--profile={state / 'profiles' / f'{org.key}.json'}",
            f"--identity={org.admin}",
            *places.args(),
            f"--listen={org.host}:{org.store_port}",
            f"--tls-cert={paths.store / 'server.crt'}",
            f"--tls-key={paths.store / 'server.key'}",
            f"--channel={c.channel}",
            f"--chaincode={c.chaincode_name}",
            f"--trust-file={trust_file}",
        ],
        env={**base_env(), **places.env, "PYTHONUNBUFFERED": "1"},
        ports=[org.store_port],
        health_url=f"https://{org.host}:{org.store_port}/healthz",
        ca_file=paths.ca_cert,
        host=org.host,
    )


def app_specs(c: Consortium, state: Path, orgs: tuple[Org, ...] | None = None) -> list[ProcessSpec]:
    """The web apps of `orgs` (default: every organization). The consent portal and the researcher app
    open sessions with every hospital's wallets, so they run only where all of them are (one machine)."""
    every_org = orgs is None
    orgs = c.orgs if orgs is None else orgs
    specs = []
    for org in (o for o in c.orgs if o in orgs):
        if not org.app_port or not (org.store_port or every_org):
            continue
        models = ["--models", str(REPO_ROOT / "models" / "artifacts")]
        kind = ["hospital", "--org", org.key, *models] if org.store_port else ["portal"]
        name = f"app-{org.key}" if org.store_port else "portal"
        specs.append(
            ProcessSpec(
                name=name,
                command=[sys.executable, "-m", "careledger_apps", *kind, "--host", org.host],
                env={**base_env(), "CARELEDGER_STATE": str(state), "PYTHONUNBUFFERED": "1"},
                ports=[org.app_port],
                health_url=f"https://{org.host}:{org.app_port}/login",
                ca_file=crypto.org_paths(state, org).ca_cert,
                host=org.host,
            )
        )
    authority = c.authority
    if authority not in orgs:
        return specs
    models = ["--models", str(REPO_ROOT / "models" / "artifacts")]
    apps = (("research", authority.research_port), ("auditor", authority.audit_port))
    for name, port in apps if every_org else apps[1:]:
        if port:  # served with the authority's app TLS identity, like the portal
            specs.append(
                ProcessSpec(
                    name=f"{name}-app",
                    command=[
                        sys.executable,
                        "-m",
                        "careledger_apps",
                        name,
                        "--port",
                        str(port),
                        "--host",
                        authority.host,
                        *models,
                    ],
                    env={**base_env(), "CARELEDGER_STATE": str(state), "PYTHONUNBUFFERED": "1"},
                    ports=[port],
                    health_url=f"https://{authority.host}:{port}/login",
                    ca_file=crypto.org_paths(state, authority).ca_cert,
                    host=authority.host,
                )
            )
    return specs
