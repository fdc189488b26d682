"""Everything generated from the consortium definition: configtx, node configs, CCAAS packages, profiles."""

from __future__ import annotations

import copy
import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import yaml
from careledger import write_atomic
from careledger_protocol import PRIVATE_COLLECTION

from . import bft
from .consortium import BFT, Consortium, Orderer, Org, Peer
from .crypto import org_paths, wallet
from .paths import BUILDERS_DIR, Fabric

CHANNEL_PROFILE = "CareLedgerChannel"


def _set(doc: dict[str, Any], dotted: str, value: Any) -> None:
    node = doc
    *parents, leaf = dotted.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value


def _dump(path: Path, doc: dict[str, Any]) -> None:
    write_atomic(path, yaml.safe_dump(doc, sort_keys=False, default_flow_style=False).encode())


# -- channel configuration -----------------------------------------------------------------------------
def _org_section(c: Consortium, org: Org, state: Path, is_orderer: bool) -> dict[str, Any]:
    m = org.msp_id
    section: dict[str, Any] = {
        "Name": org.name,
        "ID": m,
        "MSPDir": str(org_paths(state, org).msp / "msp"),
        "Policies": {
            "Readers": {"Type": "Signature", "Rule": f"OR('{m}.member')"},
            "Writers": {"Type": "Signature", "Rule": f"OR('{m}.member')"},
            "Admins": {"Type": "Signature", "Rule": f"OR('{m}.admin')"},
        },
    }
    if is_orderer:
        section["OrdererEndpoints"] = [o.address for o in c.orderers_of(org)]
        if org is not c.orderer_org:  # an application org that runs BFT orderers: its orderers act here
            section["Policies"] = bft.orderer_org_policies(m)
    else:
        section["Policies"]["Readers"]["Rule"] = f"OR('{m}.admin', '{m}.peer', '{m}.client')"
        section["Policies"]["Writers"]["Rule"] = f"OR('{m}.admin', '{m}.client')"
        section["Policies"]["Endorsement"] = {"Type": "Signature", "Rule": f"OR('{m}.peer')"}
        section["AnchorPeers"] = [{"Host": org.peers[0].host, "Port": org.peers[0].port}]
    return section


def _raft_section(c: Consortium, state: Path) -> dict[str, Any]:
    """The Raft-specific keys of configtx.yaml's Orderer section: every orderer is a consenter."""
    consenters = []
    for o in c.orderers:
        tls_cert = str(org_paths(state, c.org(o.msp_id)).node(o.name) / "tls" / "server.crt")
        consenters.append({"Host": o.host, "Port": o.port, "ClientTLSCert": tls_cert, "ServerTLSCert": tls_cert})
    options = {
        "TickInterval": "500ms",
        "ElectionTick": 10,
        "HeartbeatTick": 1,
        "MaxInflightBlocks": 5,
        "SnapshotIntervalSize": "16 MB",
    }
    return {"OrdererType": "etcdraft", "EtcdRaft": {"Consenters": consenters, "Options": options}}


def write_configtx(c: Consortium, state: Path) -> Path:
    """configtx.yaml for the application channel, in <state>/configtx/."""
    implicit = {
        "Readers": {"Type": "ImplicitMeta", "Rule": "ANY Readers"},
        "Writers": {"Type": "ImplicitMeta", "Rule": "ANY Writers"},
        "Admins": {"Type": "ImplicitMeta", "Rule": "MAJORITY Admins"},
    }
    endorsement = f"{c.endorsement_policy} Endorsement"
    doc = {
        "Profiles": {
            CHANNEL_PROFILE: {
                "Policies": implicit,
                "Capabilities": {"V3_0": True},
                "Orderer": {
                    "BatchTimeout": c.batch_timeout,
                    "BatchSize": {
                        "MaxMessageCount": c.max_message_count,
                        "AbsoluteMaxBytes": c.absolute_max_bytes,
                        "PreferredMaxBytes": c.preferred_max_bytes,
                    },
                    **(bft.orderer_section(c, state) if c.consensus == BFT else _raft_section(c, state)),
                    "Organizations": [_org_section(c, org, state, True) for org in c.ordering_orgs],
                    "Policies": {
                        **implicit,
                        # Under BFT configtxgen replaces it with a quorum of the consenters' signatures.
                        "BlockValidation": {"Type": "ImplicitMeta", "Rule": "ANY Writers"},
                    },
                    "Capabilities": {"V2_0": True},
                },
                "Application": {
                    "Organizations": [_org_section(c, org, state, False) for org in c.orgs],
                    "Policies": {
                        **implicit,
                        "LifecycleEndorsement": {"Type": "ImplicitMeta", "Rule": endorsement},
                        "Endorsement": {"Type": "ImplicitMeta", "Rule": endorsement},
                    },
                    "Capabilities": {"V2_5": True},
                },
            }
        }
    }
    path = state / "configtx" / "configtx.yaml"
    _dump(path, doc)
    return path


def write_org_configtx(c: Consortium, state: Path, org: Org) -> Path:
    """A configtx.yaml naming one application organization only, for `configtxgen -printOrg`: its definition as
    a config update adds it to the running channel (org_join.py), the same section the genesis block has."""
    path = state / "configtx" / "joining" / org.key / "configtx.yaml"
    _dump(path, {"Organizations": [_org_section(c, org, state, False)]})
    return path


# -- node configuration (Fabric's sampleconfig with our settings on top) ---------------------------------
def node_config_dir(state: Path, node_name: str) -> Path:
    return state / "config" / node_name


def write_peer_config(c: Consortium, fabric: Fabric, state: Path, org: Org, peer: Peer) -> Path:
    doc = yaml.safe_load((fabric.config_dir / "core.yaml").read_text())
    node = org_paths(state, org).node(peer.name)
    tls = node / "tls"
    bootstrap = " ".join(p.address for p in org.peers)
    settings: dict[str, Any] = {
        "peer.id": peer.name,
        "peer.networkId": "careledger",
        "peer.listenAddress": peer.address,
        "peer.address": peer.address,
        "peer.chaincodeListenAddress": f"{peer.host}:{peer.chaincode_port}",
        "peer.chaincodeAddress": f"{peer.host}:{peer.chaincode_port}",
        "peer.localMspId": peer.msp_id,
        "peer.mspConfigPath": str(node / "msp"),
        "peer.fileSystemPath": str(state / "data" / peer.name),
        "peer.gateway.enabled": True,
        "peer.gossip.bootstrap": bootstrap,
        "peer.gossip.externalEndpoint": peer.address,
        "peer.gossip.endpoint": peer.address,
        "peer.gossip.useLeaderElection": False,
        "peer.gossip.orgLeader": peer is org.peers[0],
        "peer.gossip.reconnectInterval": c.tuning.get("gossip_reconnect_interval", "25s"),
        # Private data missing at commit (an org's own lifecycle approvals after a lost ledger have nobody else to
        # come from) must not hold commits 60 s; reconciliation goes on fetching it in the background.
        "peer.gossip.pvtData.pullRetryThreshold": c.tuning.get("pvtdata_pull_retry_threshold", "1s"),
        # A peer restored from a ledger snapshot has the private data's hashes but not the data: the reconciler
        # fetches it from the collection's other members. Fabric's default (10 items a minute) would leave it
        # answering private reads wrongly for hours; this makes it minutes at most.
        "peer.gossip.pvtData.reconcileSleepInterval": c.tuning.get("pvtdata_reconcile_interval", "2s"),
        "peer.gossip.pvtData.reconcileBatchSize": int(c.tuning.get("pvtdata_reconcile_batch", "1000")),
        "peer.tls.enabled": True,
        "peer.tls.cert.file": str(tls / "server.crt"),
        "peer.tls.key.file": str(tls / "server.key"),
        "peer.tls.rootcert.file": str(tls / "ca.crt"),
        "peer.tls.clientRootCAs.files": [str(tls / "ca.crt")],
        "vm.endpoint": "",  # no Docker: chaincode runs as a service
        "chaincode.externalBuilders": [{"name": "careledger-ccaas", "path": str(BUILDERS_DIR / "ccaas")}],
        "ledger.state.stateDatabase": "goleveldb",
        "ledger.snapshots.rootDir": str(state / "data" / peer.name / "snapshots"),
        "operations.listenAddress": f"{peer.host}:{peer.operations_port}",
        "operations.tls.enabled": True,
        "operations.tls.cert.file": str(tls / "server.crt"),
        "operations.tls.key.file": str(tls / "server.key"),
        "operations.tls.clientRootCAs.files": [str(tls / "ca.crt")],
        "metrics.provider": "prometheus",
    }
    if c.tuning.get("peer_profiling") == "on":  # Go pprof on the port after operations, loopback only
        settings["peer.profile.enabled"] = True
        settings["peer.profile.listenAddress"] = f"{peer.host}:{peer.operations_port + 1}"
    for key, value in settings.items():
        _set(doc, key, value)
    path = node_config_dir(state, peer.name) / "core.yaml"
    _dump(path, doc)
    return path


def _orderer_listener(section: str, address: str, tls: Path, client_auth: bool) -> dict[str, Any]:
    """An orderer.yaml listener section (Admin, Operations) serving TLS with the node's server pair."""
    return {
        f"{section}.ListenAddress": address,
        f"{section}.TLS.Enabled": True,
        f"{section}.TLS.Certificate": str(tls / "server.crt"),
        f"{section}.TLS.PrivateKey": str(tls / "server.key"),
        f"{section}.TLS.ClientAuthRequired": client_auth,
        f"{section}.TLS.ClientRootCAs": [str(tls / "ca.crt")],
    }


def write_orderer_config(fabric: Fabric, state: Path, c: Consortium, orderer: Orderer) -> Path:
    doc = yaml.safe_load((fabric.config_dir / "orderer.yaml").read_text())
    node = org_paths(state, c.org(orderer.msp_id)).node(orderer.name)
    tls = node / "tls"
    data = state / "data" / orderer.name
    consensus_dir = data / ("smartbft" if c.consensus == BFT else "etcdraft")
    settings: dict[str, Any] = {
        "General.ListenAddress": orderer.host,
        "General.ListenPort": orderer.port,
        "General.LocalMSPID": orderer.msp_id,
        "General.LocalMSPDir": str(node / "msp"),
        "General.BootstrapMethod": "none",
        "General.TLS.Enabled": True,
        "General.TLS.PrivateKey": str(tls / "server.key"),
        "General.TLS.Certificate": str(tls / "server.crt"),
        "General.TLS.RootCAs": [str(tls / "ca.crt")],
        "General.Cluster.ClientCertificate": str(tls / "server.crt"),
        "General.Cluster.ClientPrivateKey": str(tls / "server.key"),
        "FileLedger.Location": str(data),
        "Consensus.WALDir": str(consensus_dir / "wal"),
        "Consensus.SnapDir": str(consensus_dir / "snapshot"),  # Raft's; SmartBFT keeps no snapshots
        "ChannelParticipation.Enabled": True,
        # osnadmin must present a client certificate; the health check (Operations) need not.
        **_orderer_listener("Admin", f"{orderer.host}:{orderer.admin_port}", tls, client_auth=True),
        **_orderer_listener("Operations", f"{orderer.host}:{orderer.operations_port}", tls, client_auth=False),
        "Metrics.Provider": "prometheus",
    }
    for key, value in settings.items():
        _set(doc, key, value)
    path = node_config_dir(state, orderer.name) / "orderer.yaml"
    _dump(path, doc)
    return path


def write_cli_config(fabric: Fabric, state: Path) -> Path:
    """A core.yaml for the peer CLI (admin commands); identities come from environment variables."""
    doc = yaml.safe_load((fabric.config_dir / "core.yaml").read_text())
    path = node_config_dir(state, "cli") / "core.yaml"
    _dump(path, copy.deepcopy(doc))
    return path


# -- chaincode as a service ------------------------------------------------------------------------------
def _tar_gz(files: dict[str, bytes]) -> bytes:
    """A deterministic .tar.gz (fixed times and owners), so the same inputs give the same package id."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size = len(files[name])
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(files[name]))
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def write_collections_config(c: Consortium, state: Path) -> Path:
    """The chaincode's private data collection: held by the peers of every application organization.

    Each organization's peers may endorse any decision (the endorsement policy is MAJORITY), so each must
    read the same key entries; blocks carry only hashes, and the chaincode purges entries on erasure."""
    members = ", ".join(f"'{org.msp_id}.member'" for org in c.orgs)
    collections = [
        {
            "name": PRIVATE_COLLECTION,
            "policy": f"OR({members})",
            # The endorsing peers keep it; the others pull it when they commit. Pushing it at endorsement cost
            # more (grant at 64 in flight: 53.3 tx/s pushing to 2 peers, 61.1 to 1, 73.7 to none).
            "requiredPeerCount": 0,
            "maxPeerCount": 0,
            "blockToLive": 0,
            "memberOnlyRead": True,
            "memberOnlyWrite": True,
        }
    ]
    path = state / "chaincode" / "collections.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(collections, indent=2).encode())
    return path


def chaincode_package(c: Consortium, state: Path, org: Org, sequence: int) -> tuple[Path, str]:
    """The org's CCAAS package of CareLedger's chaincode (see ccaas_package)."""
    return ccaas_package(state, org, f"{c.chaincode_name}_{org.key}_{sequence}", f"{org.host}:{org.chaincode_port}")


def ccaas_package(state: Path, org: Org, label: str, address: str) -> tuple[Path, str]:
    """A CCAAS package pointing the org's peers at a chaincode server at `address`, over mutual TLS with
    the org's chaincode certificates.

    Returns the package path and its package id (label:sha256), computed as the peer computes it.
    """
    cc = org_paths(state, org).chaincode
    connection = {
        "address": address,
        "dial_timeout": "10s",
        "tls_required": True,
        "client_auth_required": True,
        "client_key": (cc / "client.key").read_text(),
        "client_cert": (cc / "client.crt").read_text(),
        "root_cert": (cc / "ca.crt").read_text(),
    }
    code = _tar_gz({"connection.json": json.dumps(connection, sort_keys=True, indent=2).encode()})
    metadata = json.dumps({"type": "ccaas", "label": label}, sort_keys=True).encode()
    package = _tar_gz({"code.tar.gz": code, "metadata.json": metadata})
    path = state / "chaincode" / org.key / f"{label}.tar.gz"
    write_atomic(path, package)
    return path, f"{label}:{hashlib.sha256(package).hexdigest()}"


# -- connection profiles ---------------------------------------------------------------------------------
def write_connection_profile(c: Consortium, state: Path, org: Org) -> Path:
    """A Fabric common connection profile for one org (JSON), plus where its wallet is."""
    peers: dict[str, Any] = {}
    for other in c.orgs:
        tls_ca = (org_paths(state, other).msp / "msp" / "tlscacerts" / "tlsca.pem").read_text()
        for p in other.peers:
            peers[p.name] = {
                "url": f"grpcs://{p.address}",
                "tlsCACerts": {"pem": tls_ca},
                "grpcOptions": {"ssl-target-name-override": p.host, "hostnameOverride": p.host},
            }
    orderers = {
        o.name: {
            "url": f"grpcs://{o.address}",
            "tlsCACerts": {"pem": org_paths(state, c.org(o.msp_id)).ca_cert.read_text()},  # its org's CA
            "grpcOptions": {"ssl-target-name-override": o.host, "hostnameOverride": o.host},
        }
        for o in c.orderers
    }
    paths = org_paths(state, org)
    profile = {
        "name": f"careledger-{org.key}",
        "version": "1.0.0",
        "client": {"organization": org.name, "connection": {"timeout": {"peer": {"endorser": "30"}}}},
        "organizations": {
            o.name: {
                "mspid": o.msp_id,
                "peers": [p.name for p in o.peers],
                "certificateAuthorities": [o.ca.name],
            }
            for o in c.orgs
        },
        "peers": peers,
        "orderers": orderers,  # the peer CLI and SDKs that submit themselves need them
        "certificateAuthorities": {
            org.ca.name: {
                "url": org.ca.url,
                "caName": org.ca.name,
                "tlsCACerts": {"pem": [paths.ca_cert.read_text()]},
                "httpOptions": {"verify": True},
            }
        },
        "channels": {c.channel: {"orderers": list(orderers), "peers": {p.name: {} for p in c.peers}}},
        "x-careledger": {
            "channel": c.channel,
            "chaincode": c.chaincode_name,
            "wallet": str(wallet(state, org).root),
            "org_admin": org.admin,
            "app_port": org.app_port,
            "hospitals": [o.key for o in c.orgs if o.store_port],
            "grantee_msps": [o.msp_id for o in c.orgs if o.store_port],
            "portal_org": next((o.key for o in c.orgs if o.msp_id == c.authority_msp), ""),
            "portal_port": next((o.app_port for o in c.orgs if o.msp_id == c.authority_msp), 0),
            "research_port": c.authority.research_port,
            "audit_port": c.authority.audit_port,
            "stores": {
                o.msp_id: {
                    "url": f"https://{o.host}:{o.store_port}",
                    "tlsCACerts": {"pem": org_paths(state, o).ca_cert.read_text()},
                }
                for o in c.orgs
                if o.store_port
            },
        },
    }
    path = state / "profiles" / f"{org.key}.json"
    write_atomic(path, (json.dumps(profile, indent=2, sort_keys=True) + "\n").encode())
    return path
