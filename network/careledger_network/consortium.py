"""The consortium definition (network/consortium.yaml) as typed objects, with every port derived.

This is the only place that knows the port layout; everything generated reads these objects.
"""

from __future__ import annotations

import ipaddress
import re
import zoneinfo
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from .consortium_ordering import BFT as BFT
from .consortium_ordering import BFT_MIN_ORDERERS as BFT_MIN_ORDERERS
from .consortium_ordering import RAFT as RAFT
from .consortium_ordering import check_ordering, org_orderers
from .consortium_stores import StoreReplica as StoreReplica
from .consortium_stores import store_replica
from .errors import ConsortiumError as ConsortiumError  # defined there; raised and exported here

ROLES = ("patient", "clinician", "researcher", "auditor")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,39}$")
_DURATION = re.compile(r"^\d+(ms|s|m)$")
# Ordering: Raft (etcdraft, crash fault tolerant, every orderer the orderer org's) or SmartBFT (Fabric 3's
# BFT: tolerates f faulty orderers of 3f+1, spread over organizations so that none orders alone).
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST_NAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*$")
# Every TLS certificate also names these, so whoever runs on the node's own machine may use loopback.
LOOPBACK_NAMES = ("127.0.0.1", "localhost")

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "consortium.yaml"


@dataclass(frozen=True)
class User:
    id: str
    role: str  # patient | clinician | researcher | auditor | admin


@dataclass(frozen=True)
class CA:
    org: str
    name: str
    host: str
    port: int
    operations_port: int

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"


@dataclass(frozen=True)
class Peer:
    org: str
    msp_id: str
    name: str  # e.g. peer0-hospital1
    host: str
    port: int
    chaincode_port: int
    operations_port: int

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Orderer:
    name: str  # e.g. orderer1 (the orderer org's), orderer0-hospital1 (an application org's, BFT only)
    host: str
    port: int
    admin_port: int
    operations_port: int
    org: str  # the organization that runs it: its MSP signs the orderer's blocks (BFT) and admins it
    msp_id: str

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Org:
    name: str
    msp_id: str
    port_base: int
    admin: str
    ca: CA
    peers: tuple[Peer, ...] = ()
    users: tuple[User, ...] = ()
    chaincode_port: int = 0
    store_port: int = 0  # 0: this org runs no record store
    app_port: int = 0  # the hospital app (hospitals) or the consent portal (the authority)
    display_name: str = ""  # how pages name the organization (the apps fall back to the name)
    time_zone: str = "UTC"  # IANA name: the apps show its times in it until the browser shows its own
    research_port: int = 0  # the researcher app (the authority serves it for every hospital's researchers)
    audit_port: int = 0  # the auditor app (the authority)
    store_replica: StoreReplica | None = None  # None: the record store keeps blobs on local disk only
    host: str = "127.0.0.1"  # where the org's nodes listen and the others reach them (a name or an address)
    address: str = ""  # the IP address of that host when `host` is a name (certificates name both)

    @property
    def key(self) -> str:
        """Lower-case name used for folders, process names and CLI arguments."""
        return self.name.lower()

    @property
    def tls_hosts(self) -> tuple[str, ...]:
        """What the org's TLS certificates name: its host and address, and loopback for local clients."""
        return tuple(dict.fromkeys(h for h in (self.host, self.address, *LOOPBACK_NAMES) if h))


@dataclass(frozen=True)
class Consortium:
    host: str
    channel: str
    batch_timeout: str
    max_message_count: int
    absolute_max_bytes: str
    preferred_max_bytes: str
    chaincode_name: str
    endorsement_policy: str
    chaincode_server_module: str
    authority_msp: str
    orderer_org: Org
    orderers: tuple[Orderer, ...]
    orgs: tuple[Org, ...]
    tuning: dict[str, str] = field(default_factory=dict)
    consensus: str = RAFT  # RAFT or BFT

    @property
    def peers(self) -> tuple[Peer, ...]:
        return tuple(p for org in self.orgs for p in org.peers)

    @property
    def authority(self) -> Org:
        """The organization whose auditors approve models and read every trail (it serves the portal, the
        researcher app and the auditor app)."""
        return next(o for o in self.orgs if o.msp_id == self.authority_msp)  # parse() checks it is one of them

    def orderers_of(self, org: Org) -> tuple[Orderer, ...]:
        """The orderers `org` runs (under Raft only the orderer org runs any)."""
        return tuple(o for o in self.orderers if o.msp_id == org.msp_id)

    @property
    def ordering_orgs(self) -> tuple[Org, ...]:
        """The organizations that run orderers: the channel's Orderer group lists these."""
        return tuple(org for org in (self.orderer_org, *self.orgs) if self.orderers_of(org))

    def with_cas_on_loopback(self) -> Consortium:
        """This consortium with every CA served at 127.0.0.1 (the certificates still name each org's own host):
        `careledger-network generate` runs every org's CA on one machine just long enough to enroll."""

        def local(org: Org) -> Org:
            return replace(org, ca=replace(org.ca, host=LOOPBACK_NAMES[0]))

        return replace(self, orderer_org=local(self.orderer_org), orgs=tuple(local(o) for o in self.orgs))

    def org(self, key: str) -> Org:
        for org in (*self.orgs, self.orderer_org):
            if key.lower() in (org.key, org.msp_id.lower()):
                return org
        names = ", ".join(o.key for o in self.orgs)
        raise ConsortiumError(f"unknown organization {key!r}; the consortium has: {names}")

    def all_ports(self) -> dict[int, str]:
        """Every port the network listens on, with what listens there."""
        ports: dict[int, str] = {}
        for org in (self.orderer_org, *self.orgs):
            ports[org.ca.port] = f"CA of {org.name}"
            ports[org.ca.operations_port] = f"CA of {org.name} (operations)"
        for o in self.orderers:
            ports[o.port] = o.name
            ports[o.admin_port] = f"{o.name} (admin)"
            ports[o.operations_port] = f"{o.name} (operations)"
        for org in self.orgs:
            ports[org.chaincode_port] = f"chaincode server of {org.name}"
            if org.store_port:
                ports[org.store_port] = f"record store of {org.name}"
            if org.store_replica and org.store_replica.server_port:
                ports[org.store_replica.server_port] = f"record-store replica (S3Proxy) of {org.name}"
            if org.app_port:
                ports[org.app_port] = f"{'hospital app' if org.store_port else 'consent portal'} of {org.name}"
            if org.research_port:
                ports[org.research_port] = f"researcher app of {org.name}"
            if org.audit_port:
                ports[org.audit_port] = f"auditor app of {org.name}"
            for p in org.peers:
                ports[p.port] = p.name
                ports[p.chaincode_port] = f"{p.name} (chaincode listener)"
                ports[p.operations_port] = f"{p.name} (operations)"
        return ports


def _require(doc: dict[str, Any], key: str, where: str) -> Any:
    if key not in doc:
        raise ConsortiumError(f"{where}: missing '{key}'")
    return doc[key]


def _name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise ConsortiumError(
            f"{where}: {value!r} is not a valid name (a letter, then letters, digits or '-', at most 40)"
        )
    return value


def _time_zone(value: Any, where: str) -> str:
    try:
        zoneinfo.ZoneInfo(str(value))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConsortiumError(f"{where}: {value!r} is not an IANA time zone (e.g. Europe/Lisbon)") from None
    return str(value)


def _port_base(value: Any, where: str) -> int:
    if not isinstance(value, int) or not 1024 <= value <= 65000:
        raise ConsortiumError(f"{where}.port_base: {value!r} must be an integer between 1024 and 65000")
    return value


def _count(value: Any, where: str, upper: int) -> int:
    if not isinstance(value, int) or not 1 <= value <= upper:
        raise ConsortiumError(f"{where}: {value!r} must be an integer from 1 to {upper}")
    return value


def _host(raw: dict[str, Any], default: str, where: str) -> tuple[str, str]:
    """An organization's (host, address): `host` defaults to the consortium's, `address` must be an IP."""
    host = str(raw.get("host") or default)
    if not _HOST_NAME.match(host) and not _is_ip(host):
        raise ConsortiumError(f"{where}.host: {host!r} is not a host name or IP address (no scheme, no port)")
    address = str(raw.get("address") or "")
    if address and not _is_ip(address):
        raise ConsortiumError(f"{where}.address: {address!r} is not an IP address (put a DNS name in host)")
    return host, address


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _make_ca(org_name: str, host: str, base: int) -> CA:
    return CA(org=org_name, name=f"ca-{org_name.lower()}", host=host, port=base, operations_port=base + 1)


def parse(doc: Any) -> Consortium:
    """Validate a loaded consortium document and derive every endpoint from it."""
    if not isinstance(doc, dict):
        raise ConsortiumError("the consortium definition must be a YAML mapping")
    host = str(doc.get("host", "127.0.0.1"))
    channel = _require(doc, "channel", "consortium")
    chaincode = _require(doc, "chaincode", "consortium")
    channel_name = str(_require(channel, "name", "channel"))
    if not re.match(r"^[a-z][a-z0-9.-]{0,248}$", channel_name):
        raise ConsortiumError(f"channel.name: {channel_name!r} must be lower case letters, digits, '.', '-'")
    batch_timeout = str(channel.get("batch_timeout", "250ms"))
    if not _DURATION.match(batch_timeout):
        raise ConsortiumError(f"channel.batch_timeout: {batch_timeout!r} must look like 250ms, 2s or 1m")
    policy = str(chaincode.get("endorsement_policy", "MAJORITY"))
    if policy not in ("MAJORITY", "ANY", "ALL"):
        raise ConsortiumError(f"chaincode.endorsement_policy: {policy!r} must be MAJORITY, ANY or ALL")

    oo = _require(doc, "orderer_org", "consortium")
    oo_name = _name(_require(oo, "name", "orderer_org"), "orderer_org.name")
    oo_base = _port_base(_require(oo, "port_base", "orderer_org"), "orderer_org")
    oo_host, oo_address = _host(oo, host, "orderer_org")
    orderer_org = Org(
        name=oo_name,
        msp_id=_name(_require(oo, "msp_id", "orderer_org"), "orderer_org.msp_id"),
        port_base=oo_base,
        admin=_name(_require(oo, "admin", "orderer_org"), "orderer_org.admin"),
        ca=_make_ca(oo_name, oo_host, oo_base),
        host=oo_host,
        address=oo_address,
    )
    consensus = str(channel.get("consensus", RAFT)).lower()
    if consensus not in (RAFT, BFT):
        raise ConsortiumError(f"channel.consensus: {channel.get('consensus')!r} must be {RAFT} (default) or {BFT}")
    n_orderers = _count(oo.get("orderers", 3), "orderer_org.orderers", 9)
    orderers = [
        Orderer(
            name=f"orderer{i + 1}",
            host=oo_host,
            port=oo_base + 10 + 10 * i,
            admin_port=oo_base + 11 + 10 * i,
            operations_port=oo_base + 12 + 10 * i,
            org=oo_name,
            msp_id=orderer_org.msp_id,
        )
        for i in range(n_orderers)
    ]

    orgs: list[Org] = []
    authority = str(chaincode.get("authority_msp", "HealthAuthorityMSP"))
    raw_orgs = _require(doc, "orgs", "consortium")
    if not isinstance(raw_orgs, list) or not raw_orgs:
        raise ConsortiumError("orgs: list at least one application organization")
    for idx, raw in enumerate(raw_orgs):
        where = f"orgs[{idx}]"
        name = _name(_require(raw, "name", where), f"{where}.name")
        base = _port_base(_require(raw, "port_base", where), where)
        msp_id = _name(_require(raw, "msp_id", where), f"{where}.msp_id")
        org_host, org_address = _host(raw, host, where)
        n_peers = _count(raw.get("peers", 1), f"{where}.peers", 8)
        # An application org's orderers take the node slots after its peers (see the port layout).
        orderers += [
            Orderer(
                name=f"orderer{i}-{name.lower()}",
                host=org_host,
                port=base + 10 + 10 * (n_peers + i),
                admin_port=base + 11 + 10 * (n_peers + i),
                operations_port=base + 12 + 10 * (n_peers + i),
                org=name,
                msp_id=msp_id,
            )
            for i in range(org_orderers(raw.get("orderers", 0), consensus, where))
        ]
        peers = tuple(
            Peer(
                org=name,
                msp_id=msp_id,
                name=f"peer{i}-{name.lower()}",
                host=org_host,
                port=base + 10 + 10 * i,
                chaincode_port=base + 11 + 10 * i,
                operations_port=base + 12 + 10 * i,
            )
            for i in range(n_peers)
        )
        users: list[User] = []
        for u_idx, u in enumerate(raw.get("users", []) or []):
            u_where = f"{where}.users[{u_idx}]"
            role = _require(u, "role", u_where)
            if role not in ROLES:
                raise ConsortiumError(f"{u_where}.role: {role!r} must be one of {', '.join(ROLES)}")
            users.append(User(id=_name(_require(u, "id", u_where), f"{u_where}.id"), role=role))
        orgs.append(
            Org(
                name=name,
                msp_id=msp_id,
                port_base=base,
                admin=_name(_require(raw, "admin", where), f"{where}.admin"),
                ca=_make_ca(name, org_host, base),
                peers=peers,
                users=tuple(users),
                chaincode_port=base + 2,
                display_name=str(raw.get("display_name") or name),
                time_zone=_time_zone(raw.get("time_zone", "UTC"), f"{where}.time_zone"),
                store_port=base + 5 if raw.get("record_store", False) else 0,
                store_replica=store_replica(
                    raw.get("record_store", False), f"{where}.record_store", base + 9, org_host
                ),
                app_port=base + 6 if raw.get("record_store", False) or raw.get("msp_id") == authority else 0,
                research_port=base + 7 if raw.get("msp_id") == authority else 0,
                audit_port=base + 8 if raw.get("msp_id") == authority else 0,
                host=org_host,
                address=org_address,
            )
        )

    consortium = Consortium(
        host=host,
        channel=channel_name,
        batch_timeout=batch_timeout,
        max_message_count=int(channel.get("max_message_count", 500)),
        absolute_max_bytes=str(channel.get("absolute_max_bytes", "10 MB")),
        preferred_max_bytes=str(channel.get("preferred_max_bytes", "2 MB")),
        chaincode_name=_name(_require(chaincode, "name", "chaincode"), "chaincode.name"),
        endorsement_policy=policy,
        chaincode_server_module=str(chaincode.get("server_module", "careledger_chaincode.server")),
        authority_msp=str(chaincode.get("authority_msp", "HealthAuthorityMSP")),
        orderer_org=orderer_org,
        orderers=tuple(orderers),
        orgs=tuple(orgs),
        tuning={str(k): str(v) for k, v in (doc.get("tuning") or {}).items()},
        consensus=consensus,
    )
    _check_unique(consortium)
    check_ordering(consortium)
    if consortium.authority_msp not in {o.msp_id for o in consortium.orgs}:
        raise ConsortiumError(f"chaincode.authority_msp: {consortium.authority_msp!r} is not one of the orgs' msp_id")
    return consortium


def _check_unique(c: Consortium) -> None:
    seen: dict[str, str] = {}
    for org in (c.orderer_org, *c.orgs):
        for value, what in ((org.name.lower(), "name"), (org.msp_id, "msp_id")):
            if value in seen:
                raise ConsortiumError(f"two organizations share the {what} {value!r}")
            seen[value] = org.name
    ports: dict[int, str] = {}
    for org in (c.orderer_org, *c.orgs):
        span = range(org.port_base, org.port_base + 10 + 10 * (len(org.peers) + len(c.orderers_of(org))))
        for other_base, other in ports.items():
            if other_base in span:
                raise ConsortiumError(f"port_base of {org.name} overlaps the ports of {other}")
        ports[org.port_base] = org.name
    user_ids = [u.id for org in c.orgs for u in org.users] + [org.admin for org in (c.orderer_org, *c.orgs)]
    dupes = {u for u in user_ids if user_ids.count(u) > 1}
    if dupes:
        raise ConsortiumError(f"user ids must be unique across the consortium: {', '.join(sorted(dupes))}")


def load(path: Path | None = None) -> Consortium:
    path = path or DEFAULT_PATH
    try:
        doc = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConsortiumError(f"{path}: not found") from None
    except yaml.YAMLError as exc:
        raise ConsortiumError(f"{path}: not valid YAML: {exc}") from None
    return parse(doc)
