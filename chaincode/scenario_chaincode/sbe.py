"""State-based (key-level) endorsement: a key whose changes need the peers of named organizations,
whatever the chaincode's own endorsement policy says. Used by the state-based endorsement scenarios.

The policy is a signature policy over peer roles: a client's signature never counts, only endorsements.
"""

from __future__ import annotations

from typing import Any

from careledger_chaincode.runtime import Context, transaction
from fabric_protos.common import policies_pb2
from fabric_protos.msp import msp_principal_pb2
from google.protobuf.message import DecodeError

from ._common import ScenarioBase, checked_key, checked_msp, checked_value, invalid

_ROLE = msp_principal_pb2.MSPRole


def every_peer_org_policy(msp_ids: list[str]) -> bytes:
    """A signature policy met only when a peer of each of `msp_ids` has endorsed (n out of n).

    Every endorser must build the same bytes, so the order is the caller's (after dropping repeats),
    never a set's."""
    orgs = list(dict.fromkeys(msp_ids))
    if not orgs:
        raise ValueError("a key-level policy needs at least one organization")
    envelope = policies_pb2.SignaturePolicyEnvelope(version=0)
    for i, msp in enumerate(orgs):
        role = _ROLE(msp_identifier=msp, role=_ROLE.PEER)
        envelope.identities.add(
            principal_classification=msp_principal_pb2.MSPPrincipal.ROLE, principal=role.SerializeToString()
        )
        envelope.rule.n_out_of.rules.add(signed_by=i)
    envelope.rule.n_out_of.n = len(orgs)
    return bytes(envelope.SerializeToString())


def describe_policy(raw: bytes) -> dict[str, Any]:
    """How many endorsements a key-level policy asks for, and of which organizations' peers (a flat
    n-out-of policy, as built here; nested rules are reported by their top level only)."""
    envelope = policies_pb2.SignaturePolicyEnvelope()
    envelope.ParseFromString(raw)
    orgs = []
    for identity in envelope.identities:
        role = _ROLE()
        role.ParseFromString(identity.principal)
        orgs.append(role.msp_identifier)
    return {"required": envelope.rule.n_out_of.n, "peers_of": orgs}


class EndorsementPolicyFunctions(ScenarioBase):
    @transaction("SetStateWithEndorser")
    def set_state_with_endorser(self, ctx: Context, key: str, value: str, endorser_msp: str) -> None:
        """Write the key and, in the same transaction, require a peer of `endorser_msp` for later changes."""
        # Everything is checked before the first write: a peer without write batches gets each write at once.
        key, raw, policy = checked_key(key), checked_value(value), every_peer_org_policy([checked_msp(endorser_msp)])
        ctx.stub.put_state(key, raw)
        ctx.stub.set_state_validation_parameter(key, policy)

    @transaction("SetStateEndorsers")
    def set_state_endorsers(self, ctx: Context, key: str, first_msp: str, second_msp: str) -> None:
        """From now on changes of the key need a peer of both organizations. The change of policy is
        itself a change of the key: it needs the endorsers the key's current policy names."""
        policy = every_peer_org_policy([checked_msp(first_msp), checked_msp(second_msp)])
        ctx.stub.set_state_validation_parameter(checked_key(key), policy)

    @transaction("GetStateEndorsers", read_only=True)
    def get_state_endorsers(self, ctx: Context, key: str) -> dict[str, Any]:
        """The key's own policy; `required` 0 when it has none (the chaincode's policy applies)."""
        raw = ctx.stub.get_state_validation_parameter(checked_key(key))
        if not raw:
            return {"required": 0, "peers_of": []}
        try:
            return describe_policy(raw)
        except DecodeError:  # a policy another version of this chaincode set in a form this one cannot read
            raise invalid("the key's endorsement policy is not a signature policy this chaincode reads") from None

    @transaction("GetState", read_only=True)
    def get_state(self, ctx: Context, key: str) -> str:
        value = ctx.stub.get_state(checked_key(key))
        return value.decode("utf-8", errors="replace") if value else ""

    @transaction("ChangeState")
    def change_state(self, ctx: Context, key: str, value: str) -> None:
        """A plain write: whether it commits depends on the key's policy and on who endorsed."""
        ctx.stub.put_state(checked_key(key), checked_value(value))
