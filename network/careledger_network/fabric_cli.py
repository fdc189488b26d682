"""The admin commands of Fabric's own tools (configtxgen, osnadmin, peer), with the right environment."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .consortium import Consortium, Orderer, Org, Peer
from .crypto import org_paths, wallet
from .generate import CHANNEL_PROFILE, node_config_dir
from .paths import Fabric


class CommandError(RuntimeError):
    def __init__(self, what: str, command: list[str], output: str) -> None:
        tail = "\n".join(output.strip().splitlines()[-15:])
        super().__init__(f"{what} failed ({Path(command[0]).name} exited non-zero):\n{tail}")
        self.output = output


def run(what: str, command: list[str], env: dict[str, str] | None = None, timeout: float = 120.0) -> str:
    full_env = {**os.environ, **(env or {})}
    try:
        result = subprocess.run(command, env=full_env, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        partial = "".join(_text(x) for x in (exc.stdout, exc.stderr))
        raise CommandError(what, command, f"timed out after {timeout:.0f} s\n{partial}") from None
    if result.returncode != 0:
        raise CommandError(what, command, result.stdout + result.stderr)
    return result.stdout + result.stderr


def _text(output: str | bytes | None) -> str:
    """TimeoutExpired carries bytes even with text=True."""
    if isinstance(output, bytes):
        return output.decode(errors="replace")
    return output or ""


@dataclass(frozen=True)
class ChaincodeDefinition:
    """A chaincode definition as every organization approves it and one commits it."""

    name: str
    version: str
    sequence: int
    signature_policy: str = ""  # "" keeps the channel's default endorsement policy
    collections: Path | None = None  # a collections config file

    def arguments(self, channel: str) -> list[str]:
        args = ["--channelID", channel, "--name", self.name, "--version", self.version]
        args += ["--sequence", str(self.sequence)]
        if self.signature_policy:
            args += ["--signature-policy", self.signature_policy]
        if self.collections is not None:
            args += ["--collections-config", str(self.collections)]
        return args


class FabricCLI:
    def __init__(self, fabric: Fabric, consortium: Consortium, state: Path) -> None:
        self.fabric = fabric
        self.c = consortium
        self.state = state

    @property
    def collections_config(self) -> Path:
        """The chaincode's private data collections (written by generate.write_collections_config)."""
        return self.state / "chaincode" / "collections.json"

    @property
    def genesis_block(self) -> Path:
        return self.state / "configtx" / f"{self.c.channel}.block"

    def _orderer_tls_ca(self, orderer: Orderer) -> Path:
        """The CA of the organization that runs `orderer` (under BFT not only the orderer org)."""
        return org_paths(self.state, self.c.org(orderer.msp_id)).ca_cert

    # -- channel ---------------------------------------------------------------------------------------
    def create_genesis_block(self, configtx: Path) -> None:
        run(
            "configtxgen (channel genesis block)",
            [
                self.fabric.bin("configtxgen"),
                "-profile",
                CHANNEL_PROFILE,
                "-outputBlock",
                str(self.genesis_block),
                "-channelID",
                self.c.channel,
            ],
            env={"FABRIC_CFG_PATH": str(configtx.parent), "FABRIC_LOGGING_SPEC": "warning"},
        )

    def _osnadmin(self, orderer: Orderer, *args: str) -> str:
        owner = self.c.org(orderer.msp_id)  # each organization's admin administers its own orderers
        admin_tls = wallet(self.state, owner).path(owner.admin) / "tls"
        return run(
            f"osnadmin on {orderer.name}",
            [
                self.fabric.bin("osnadmin"),
                "channel",
                *args,
                "-o",
                f"{orderer.host}:{orderer.admin_port}",
                "--ca-file",
                str(self._orderer_tls_ca(orderer)),
                "--client-cert",
                str(admin_tls / "client.crt"),
                "--client-key",
                str(admin_tls / "client.key"),
            ],
        )

    def orderer_channels(self, orderer: Orderer) -> list[str]:
        out = self._osnadmin(orderer, "list")
        body = out[out.index("{") :] if "{" in out else "{}"
        return [ch["name"] for ch in json.loads(body).get("channels") or []]

    def orderer_join(self, orderer: Orderer) -> None:
        if self.c.channel in self.orderer_channels(orderer):
            return
        self._osnadmin(orderer, "join", "--channelID", self.c.channel, "--config-block", str(self.genesis_block))

    # -- peer admin commands --------------------------------------------------------------------------------
    def admin_env(self, org: Org, peer: Peer) -> dict[str, str]:
        return {
            "FABRIC_CFG_PATH": str(node_config_dir(self.state, "cli")),
            "FABRIC_LOGGING_SPEC": "warning",
            "CORE_PEER_TLS_ENABLED": "true",
            "CORE_PEER_TLS_ROOTCERT_FILE": str(org_paths(self.state, org).ca_cert),
            "CORE_PEER_ADDRESS": peer.address,
            "CORE_PEER_LOCALMSPID": org.msp_id,
            "CORE_PEER_MSPCONFIGPATH": str(wallet(self.state, org).path(org.admin) / "msp"),
        }

    def peer(self, what: str, org: Org, peer: Peer, *args: str, timeout: float = 120.0) -> str:
        return run(what, [self.fabric.bin("peer"), *args], env=self.admin_env(org, peer), timeout=timeout)

    def _orderer_args(self, orderer: Orderer | None = None) -> list[str]:
        target = orderer or self.c.orderers[0]
        return ["-o", target.address, "--tls", "--cafile", str(self._orderer_tls_ca(target))]

    def peer_channels(self, org: Org, peer: Peer) -> list[str]:
        out = self.peer(f"list channels of {peer.name}", org, peer, "channel", "list")
        lines = out.splitlines()
        if "Channels peers has joined:" in out:
            lines = lines[lines.index(next(x for x in lines if "Channels peers has joined" in x)) + 1 :]
        return [line.strip() for line in lines if line.strip()]

    def peer_join(self, org: Org, peer: Peer) -> None:
        if self.c.channel in self.peer_channels(org, peer):
            return
        self.peer(
            f"{peer.name} joining {self.c.channel}",
            org,
            peer,
            "channel",
            "join",
            "-b",
            str(self.genesis_block),
        )

    def install(self, org: Org, peer: Peer, package: Path, package_id: str) -> None:
        installed = self.peer(
            f"query installed on {peer.name}",
            org,
            peer,
            "lifecycle",
            "chaincode",
            "queryinstalled",
            "-O",
            "json",
        )
        if package_id in installed:
            return
        self.peer(f"install on {peer.name}", org, peer, "lifecycle", "chaincode", "install", str(package))

    def definition(self, sequence: int, version: str) -> ChaincodeDefinition:
        """CareLedger's own chaincode definition (the channel's default endorsement policy)."""
        return ChaincodeDefinition(self.c.chaincode_name, version, sequence, collections=self.collections_config)

    def approve(self, org: Org, package_id: str, definition: ChaincodeDefinition) -> None:
        self.peer(
            f"approve of {definition.name} by {org.name}",
            org,
            org.peers[0],
            "lifecycle",
            "chaincode",
            "approveformyorg",
            *self._orderer_args(),
            *definition.arguments(self.c.channel),
            "--package-id",
            package_id,
        )

    def commit(self, definition: ChaincodeDefinition, org: Org | None = None) -> None:
        """Commit the definition as `org`'s admin (default: the first organization's), endorsed by the first
        peer of every organization (reached with its org's public TLS CA certificate)."""
        org = org or self.c.orgs[0]
        targets: list[str] = []
        for other in self.c.orgs:
            targets += [
                "--peerAddresses",
                other.peers[0].address,
                "--tlsRootCertFiles",
                str(org_paths(self.state, other).ca_cert),
            ]
        self.peer(
            f"commit of the {definition.name} definition",
            org,
            org.peers[0],
            "lifecycle",
            "chaincode",
            "commit",
            *self._orderer_args(),
            *definition.arguments(self.c.channel),
            *targets,
        )

    def committed(self, org: Org, name: str = "") -> dict[str, Any] | None:
        """The committed definition of chaincode `name` (default: CareLedger's) with each org's approval,
        or None when none is committed."""
        try:
            out = self.peer(
                "query committed definition",
                org,
                org.peers[0],
                "lifecycle",
                "chaincode",
                "querycommitted",
                "--channelID",
                self.c.channel,
                "--name",
                name or self.c.chaincode_name,
                "-O",
                "json",
            )
        except CommandError as exc:
            if any(s in exc.output for s in ("not found", "does not exist", "is not defined")):
                return None
            raise
        doc: dict[str, Any] = json.loads(out[out.index("{") :])
        return doc

    def fetch_block(self, org: Org, number: int, into: Path, orderer: Orderer | None = None) -> None:
        """Block `number` of the channel from the orderers, as `org`'s admin (block 0 lets a peer join)."""
        into.parent.mkdir(parents=True, exist_ok=True)
        self.peer(
            f"fetch block {number}",
            org,
            org.peers[0],
            "channel",
            "fetch",
            str(number),
            str(into),
            "-c",
            self.c.channel,
            *self._orderer_args(orderer),
        )

    def fetch_config_block(self, org: Org, into: Path, orderer: Orderer | None = None) -> bytes:
        """The channel's newest config block, as the orderers have it."""
        self.peer(
            "fetch the channel configuration",
            org,
            org.peers[0],
            "channel",
            "fetch",
            "config",
            str(into),
            "-c",
            self.c.channel,
            *self._orderer_args(orderer),
        )
        return into.read_bytes()

    def channel_update(self, org: Org, envelope: Path, orderer: Orderer | None = None) -> None:
        """Sign a CONFIG_UPDATE envelope as the org's admin and send it to the orderers."""
        self.peer(
            f"channel update signed by {org.name}'s admin",
            org,
            org.peers[0],
            "channel",
            "update",
            "-f",
            str(envelope),
            "-c",
            self.c.channel,
            *self._orderer_args(orderer),
        )

    def compute_update(self, original: bytes, updated: bytes, work: Path) -> bytes:
        """The ConfigUpdate that turns one channel configuration (common.Config) into another."""
        work.mkdir(parents=True, exist_ok=True)
        (work / "original.pb").write_bytes(original)
        (work / "updated.pb").write_bytes(updated)
        run(
            "compute the config update",
            [
                self.fabric.bin("configtxlator"),
                "compute_update",
                "--channel_id",
                self.c.channel,
                "--original",
                str(work / "original.pb"),
                "--updated",
                str(work / "updated.pb"),
                "--output",
                str(work / "update.pb"),
            ],
        )
        return (work / "update.pb").read_bytes()

    def org_definition(self, configtx: Path, name: str) -> dict[str, Any]:
        """An organization's channel definition (the JSON of a common.ConfigGroup: its MSP, policies and anchor
        peers) as configtxgen prints it from a configtx.yaml naming the organization."""
        printed = run(
            f"configtxgen (the definition of {name})",
            [self.fabric.bin("configtxgen"), "-printOrg", name],
            env={"FABRIC_CFG_PATH": str(configtx.parent), "FABRIC_LOGGING_SPEC": "warning"},
        )
        group: dict[str, Any] = json.loads(printed[printed.index("{") : printed.rindex("}") + 1])
        return group

    def with_application_org(self, config: bytes, name: str, group: dict[str, Any], work: Path) -> bytes:
        """A channel configuration (common.Config) with an application organization's group added. Through
        configtxlator's JSON: only a whole config tells it which message each of the group's values holds."""
        work.mkdir(parents=True, exist_ok=True)
        (work / "config.pb").write_bytes(config)
        lator = self.fabric.bin("configtxlator")
        decode = [lator, "proto_decode", "--type", "common.Config", "--input", str(work / "config.pb")]
        run("configtxlator (decode the channel config)", [*decode, "--output", str(work / "config.json")])
        doc = json.loads((work / "config.json").read_text())
        doc["channel_group"]["groups"]["Application"]["groups"][name] = group
        (work / "with-org.json").write_text(json.dumps(doc))
        encode = [lator, "proto_encode", "--type", "common.Config", "--input", str(work / "with-org.json")]
        run(f"configtxlator (encode the config with {name})", [*encode, "--output", str(work / "with-org.pb")])
        return (work / "with-org.pb").read_bytes()

    def channel_height(self, org: Org, peer: Peer) -> int:
        out = self.peer(f"channel info of {peer.name}", org, peer, "channel", "getinfo", "-c", self.c.channel)
        return int(json.loads(out[out.index("{") :])["height"])
