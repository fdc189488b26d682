"""A hospital joins the running consortium, nobody stopping (issue 20): the steps each party takes, in order.

1. The new organization's CA starts and enrolls its nodes, admin and people (its own keys, made on its host).
2. The channel gains the organization by a config update (channel.py, `add_org_update`): its definition as
   configtxgen prints it, and, where block reading is restricted, the policies naming who may read blocks.
   Adding a group to the Application section needs a majority of the member organizations' admins
   (/Channel/Application/Admins); the block-reading policy /Channel/Readers needs /Channel/Admins, i.e. the
   orderer organization's admin too. The signatures travel in the envelope; the first member's admin sends it.
3. Its peers start and join the channel with block 0, and pull every block since from the orderers.
4. A new chaincode definition (sequence + 1) puts the organization in the private data collection and, by the
   channel's MAJORITY endorsement policy, among the endorsers; its peers then reconcile the private data of
   past blocks from the others. The members approve with the packages they run, so no server of theirs
   restarts (lifecycle.py, `admit`).
5. Its gateway endorses and commits; its record store serves; every store trusts its CA from the trust file it
   re-reads (specs.write_store_trust), and every organization's connection profile names its store.

On one machine `careledger-network join-org --org ORG` takes the steps for every party; the organization must
already be in the consortium definition (the one source of truth), and the running channel must not have it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from careledger import write_atomic

from . import crypto, generate, specs
from .config_update import signed_update_envelope
from .consortium import Consortium, Org
from .errors import NetworkError
from .network import Network


@dataclass(frozen=True)
class Joined:
    org: str
    config_block: int  # the config block that added the organization
    sequence: int  # the chaincode definition that counts it
    signed_by: tuple[str, ...]  # the admins whose signatures the config update carried
    seconds: float


def _joining(c: Consortium, org_key: str) -> Org:
    """The organization of the definition that is to join: an application organization (it has peers)."""
    new = c.org(org_key)
    if new is c.orderer_org or not new.peers:
        raise NetworkError(f"{new.name} has no peers: only an application organization joins the channel")
    return new


def _majority(n: int) -> int:
    return n // 2 + 1


def join_org(network: Network, org_key: str, timeout: float = 120.0) -> Joined:
    """Take every party's steps for `org_key` joining the running channel (the module docstring)."""
    c, state, launcher = network.c, network.state, network.launcher
    if not network.runs_everything:
        raise NetworkError("join-org takes every party's steps, so it runs where every organization's keys are")
    new = _joining(c, org_key)
    if not network.meta().get("initialized"):
        raise NetworkError("there is no running network to join: `make network-up` first")
    launcher.restart_clock()
    started_at = time.monotonic()
    result: list[Joined] = []

    def steps(started: list[str]) -> None:
        members_seen = network.channel.members(network.channel_config(c.orgs[0], timeout)[1])
        if new in members_seen:
            raise NetworkError(f"{new.name} ({new.msp_id}) is on channel {c.channel} already")
        submitter = members_seen[0]
        launcher.check_ports(_ports_of(new, c.all_ports()))
        # 1. its CA and identities
        crypto.init_ca(network.fabric, new.ca, crypto.org_paths(state, new), new.tls_hosts)
        launcher.launch([specs.ca_spec(state, network.fabric, new)], started)
        crypto.enroll_all(c, state, (new,))
        launcher.step(f"{new.name}'s CA healthy; its nodes, admin and people enrolled")
        # 2. the config update, signed by a majority of the members' admins and the orderer organization's admin
        before, members, update = network.channel.add_org_update(submitter, new, timeout)
        if update is None:
            raise NetworkError(f"{new.name} is on channel {c.channel} already")
        cosigners = [o for o in members if o is not submitter][: _majority(len(members)) - 1]
        signers = [crypto.wallet(state, o).get(o.admin) for o in (*cosigners, c.orderer_org)]
        envelope = network.channel.work / f"add-{new.key}.pb"
        write_atomic(envelope, signed_update_envelope(update, c.channel, signers))
        deadline = time.monotonic() + timeout
        number = network.channel.apply_update(submitter, envelope, before, deadline, orgs=tuple(members))
        names = (submitter.admin, *(s.admin for s in cosigners), c.orderer_org.admin)
        launcher.step(f"config block {number} adds {new.msp_id}, signed by {', '.join(names)}")
        # 3. its peers, on the channel
        for peer in new.peers:
            generate.write_peer_config(c, network.fabric, state, new, peer)
        for org in c.orgs:  # every member's clients learn the new store; the new one's of everybody's
            generate.write_connection_profile(c, state, org)
        launcher.launch(specs.node_specs(c, state, network.fabric, (new,)), started)
        cli = network.cli
        for peer in new.peers:
            cli.peer_join(new, peer)
        network.channel.wait_caught_up((new,), number, deadline)  # it knows the config admitting it
        launcher.step(f"{len(new.peers)} peers of {new.name} joined {c.channel} and caught up")
        # 4. the chaincode definition that counts it
        sequence = network.chaincode.admit(new, members, started)
        network.chaincode.wait_ready()
        # 5. its store serves; everyone's stores trust it
        specs.write_store_trust(c, state)
        if new.store_port:
            network.launch_stores(started, names={f"store-{new.key}"})
            launcher.step(f"{new.name}'s record store serving; every store trusts {new.msp_id}'s CA")
        apps, table = specs.app_specs(c, state), network.table.load()
        if any(a.name in table and table[a.name].alive() for a in apps):  # the web apps are in use here
            launcher.launch([a for a in apps if a.name == f"app-{new.key}"], started)
            launcher.step(
                f"{new.name}'s hospital app serving; the consent portal and the researcher app, which keep every "
                "signed-in person's session, offer its people once restarted (network-stop/start, then apps)"
            )
        result.append(Joined(new.name, number, sequence, names, time.monotonic() - started_at))

    launcher.run_steps(steps)
    return result[0]


def _ports_of(org: Org, ports: dict[int, str]) -> dict[int, str]:
    """The ports (of Consortium.all_ports) where `org`'s processes will listen."""
    names = (org.name, *(p.name for p in org.peers))
    return {port: what for port, what in ports.items() if any(n in what.split() for n in names)}


def generate_org(network: Network, org_key: str) -> None:
    """An organization that joins later, into the generated state folder of a multi-host consortium
    (`careledger-network generate --org ORG`): its CA runs on this machine's loopback just long enough to
    enroll its nodes, admin and people, as `generate` does for the founding ones; nothing else changes."""
    c, state, launcher = network.c, network.state, network.launcher
    new = _joining(c, org_key)
    if crypto.org_paths(state, new).ca_cert.exists():
        raise NetworkError(f"{state} has {new.name}'s crypto material already: bundle it, or `down` to start over")
    if not network.cli.genesis_block.exists():
        raise NetworkError(f"{state} holds no generated consortium: `careledger-network generate` first")
    on_loopback = c.with_cas_on_loopback()
    loopback = on_loopback.org(org_key)
    launcher.restart_clock()

    def steps(started: list[str]) -> None:
        launcher.check_ports({loopback.ca.port: f"CA of {new.name}"})
        crypto.init_ca(network.fabric, loopback.ca, crypto.org_paths(state, loopback), new.tls_hosts)
        try:
            launcher.launch([specs.ca_spec(state, network.fabric, loopback)], started)
            crypto.enroll_all(on_loopback, state, (loopback,))
        finally:
            network.table.stop_all(list(started))
        for org in c.orgs:
            generate.write_connection_profile(c, state, org)

    launcher.run_steps(steps)
    launcher.step(f"generated {new.name}: `bundle --org {new.key}` for its host, `--public` for the members")
