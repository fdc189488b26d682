"""Diagnostics: a trivial key/value contract for readiness checks, benchmarks and runtime tests against
live peers (events, errors, transient data, private data, key-level endorsement, range queries,
multi-key reads, chaincode-to-chaincode calls).

Never holds patient data: keys and values are free text chosen by operators' tools, under the "diag"
namespace (composite keys) or simple keys prefixed "diag-". Only organizations' admins may call it:
anything written here stays on the ledger for good, so it is no place for members' data.
"""

from __future__ import annotations

import hashlib
import re
from typing import TypedDict

from careledger_protocol import INVALID_ARGUMENT, NOT_AUTHORIZED, NOT_FOUND
from fabric_protos.common import policies_pb2
from fabric_protos.msp import msp_principal_pb2

from ..runtime import ChaincodeError, Context, Contract, transaction

_KEY = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_MSP = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,39}$")
MAX_VALUE = 64 * 1024
MAX_MANY = 1000
SIMPLE_PREFIX = "diag-"
# The arguments' schemas, for GetMetadata.
KEY = {"type": "string", "title": "diag-key", "pattern": _KEY.pattern, "description": "1 to 128 of A-Z a-z 0-9 . _ : -"}
VALUE = {"type": "string", "description": f"at most {MAX_VALUE} bytes of UTF-8"}
MSP_CSV = {"type": "string", "description": "MSP ids separated by commas"}


def _decimal(what: str) -> dict[str, str]:
    return {"type": "string", "pattern": "^[0-9]+$", "description": what}


class CallAnswer(TypedDict):
    """diag:Call: what the called chaincode answered."""

    status: int
    message: str
    payload: str


class DiagIdentity(TypedDict):
    """diag:WhoAmI: the caller's identity as the chaincode sees it."""

    msp_id: str
    enrollment_id: str
    type: str
    role: str
    member_id: str


def _check(key: str) -> str:
    if not _KEY.match(key):
        raise ChaincodeError(INVALID_ARGUMENT, "key must be 1-128 characters of letters, digits, '.', '_', ':', '-'")
    return key


def _key(ctx: Context, key: str) -> str:
    return ctx.stub.create_composite_key("diag", [_check(key)])


def _simple(key: str) -> str:
    return SIMPLE_PREFIX + _check(key)


def _admin(ctx: Context) -> None:
    if ctx.stub.identity.attribute("role") != "admin":
        raise ChaincodeError(NOT_AUTHORIZED, "the diag contract is for organizations' admins (role admin) only")


def peer_policy(msp_ids: list[str]) -> bytes:
    """A signature policy: a peer of any one of `msp_ids` must endorse."""
    envelope = policies_pb2.SignaturePolicyEnvelope(version=0)
    for i, msp in enumerate(msp_ids):
        role = msp_principal_pb2.MSPRole(msp_identifier=msp, role=msp_principal_pb2.MSPRole.PEER)
        envelope.identities.add(
            principal_classification=msp_principal_pb2.MSPPrincipal.ROLE, principal=role.SerializeToString()
        )
        envelope.rule.n_out_of.rules.add(signed_by=i)
    envelope.rule.n_out_of.n = 1
    return bytes(envelope.SerializeToString())


def policy_msps(raw: bytes) -> list[str]:
    envelope = policies_pb2.SignaturePolicyEnvelope()
    envelope.ParseFromString(raw)
    msps = []
    for identity in envelope.identities:
        role = msp_principal_pb2.MSPRole()
        role.ParseFromString(identity.principal)
        msps.append(role.msp_identifier)
    return msps


class DiagnosticsContract(Contract):
    name = "diag"

    @transaction(
        "Put",
        arguments={"key": KEY, "value": VALUE},
        returns=None,
        events=("diag.Put",),
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED),
    )
    def put(self, ctx: Context, key: str, value: str) -> None:
        """Diagnostics (admins only): write a diag key, with a diag.Put event."""
        _admin(ctx)
        if len(value.encode()) > MAX_VALUE:
            raise ChaincodeError(INVALID_ARGUMENT, f"value must be at most {MAX_VALUE} bytes")
        ctx.stub.put_state(_key(ctx, key), value.encode())
        ctx.stub.set_event("diag.Put", key.encode())

    @transaction(
        "PutMany",
        arguments={
            "key": KEY,
            "count": _decimal(f"how many keys, 1 to {MAX_MANY}"),
            "value_bytes": _decimal(f"the size of each value, 0 to {MAX_VALUE}"),
        },
        returns=None,
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED),
    )
    def put_many(self, ctx: Context, key: str, count: str, value_bytes: str) -> None:
        """`count` keys of `value_bytes` each in one transaction: what each written key costs the network."""
        _admin(ctx)
        wrong = f"count must be a whole number 1..{MAX_MANY} and value_bytes 0..{MAX_VALUE}"
        if not (count.isdigit() and value_bytes.isdigit()):  # int() would fail as INTERNAL, not as the caller's error
            raise ChaincodeError(INVALID_ARGUMENT, wrong)
        n, size = int(count), int(value_bytes)
        if not (1 <= n <= MAX_MANY and 0 <= size <= MAX_VALUE):
            raise ChaincodeError(INVALID_ARGUMENT, wrong)
        value = b"v" * size
        for i in range(n):
            ctx.stub.put_state(_key(ctx, f"{key}.{i}"), value)

    @transaction("Get", read_only=True, arguments={"key": KEY}, refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, NOT_FOUND))
    def get(self, ctx: Context, key: str) -> str:
        """Diagnostics (admins only): the value of a diag key."""
        _admin(ctx)
        value = ctx.stub.get_state(_key(ctx, key))
        if value is None:
            raise ChaincodeError(NOT_FOUND, f"no value under key {key!r}")
        return value.decode()

    @transaction(
        "GetMany",
        read_only=True,
        arguments={"keys_csv": {"type": "string", "description": "diag keys separated by commas"}},
        returns=list[str | None],
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED),
    )
    def get_many(self, ctx: Context, keys_csv: str) -> list[str | None]:
        """Values of many keys in one GET_STATE_MULTIPLE round trip (None where missing)."""
        _admin(ctx)
        keys = [_key(ctx, k) for k in keys_csv.split(",") if k]
        return [v.decode() if v else None for v in ctx.stub.get_states(keys)]

    @transaction("PutSimple", arguments={"key": KEY}, returns=None, refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED))
    def put_simple(self, ctx: Context, key: str, value: str) -> None:
        """A simple (non-composite) key, for range-query and key-level endorsement checks."""
        _admin(ctx)
        ctx.stub.put_state(_simple(key), value.encode())

    @transaction("RangeSimple", read_only=True, returns=list[str], refusals=(NOT_AUTHORIZED,))
    def range_simple(self, ctx: Context) -> list[str]:
        """Every simple diag key: composite keys (all of the healthcare contract's state) never appear."""
        _admin(ctx)
        return [k for k, _ in ctx.stub.get_state_by_range("", "")]

    @transaction(
        "SetKeyEndorsers",
        arguments={"key": KEY, "msp_csv": MSP_CSV},
        returns=None,
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED),
    )
    def set_key_endorsers(self, ctx: Context, key: str, msp_csv: str) -> None:
        """Key-level endorsement: from now on a peer of one of these orgs must endorse writes to the key."""
        _admin(ctx)
        msps = [m for m in msp_csv.split(",") if m]
        if not msps or not all(_MSP.match(m) for m in msps):
            raise ChaincodeError(INVALID_ARGUMENT, "give one or more MSP ids separated by commas")
        ctx.stub.set_state_validation_parameter(_simple(key), peer_policy(msps))

    @transaction(
        "GetKeyEndorsers",
        read_only=True,
        arguments={"key": KEY},
        returns=list[str],
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED),
    )
    def get_key_endorsers(self, ctx: Context, key: str) -> list[str]:
        """Diagnostics (admins only): the organizations a diag key's key-level endorsement policy names."""
        _admin(ctx)
        raw = ctx.stub.get_state_validation_parameter(_simple(key))
        return policy_msps(raw) if raw else []

    @transaction("Transient", read_only=True, returns=dict[str, str], refusals=(NOT_AUTHORIZED,))
    def transient(self, ctx: Context) -> dict[str, str]:
        """The transient fields' names and SHA-256 digests (never their values)."""
        _admin(ctx)
        return {name: hashlib.sha256(value).hexdigest() for name, value in sorted(ctx.stub.transient.items())}

    @transaction("PrivateGet", read_only=True, arguments={"key": KEY}, refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED))
    def private_get(self, ctx: Context, collection: str, key: str) -> str:
        """Diagnostics (admins only): a value of a private data collection, as the endorsing peer holds it."""
        _admin(ctx)
        value = ctx.stub.get_private_data(collection, _check(key))
        return value.decode() if value else ""

    @transaction("Call", read_only=True, returns=CallAnswer, refusals=(NOT_AUTHORIZED,))
    def call(self, ctx: Context, chaincode: str, function: str, argument: str) -> CallAnswer:
        """Call another chaincode (or this one) and report its answer."""
        _admin(ctx)
        response = ctx.stub.invoke_chaincode(chaincode, [function.encode(), argument.encode()])
        return {"status": response.status, "message": response.message, "payload": response.payload.decode()}

    @transaction("Fail", returns=None, refusals=(NOT_AUTHORIZED,))
    def fail(self, ctx: Context) -> None:
        """Raise an unexpected exception: the runtime must still answer the peer at once."""
        _admin(ctx)
        raise RuntimeError("diagnostic failure")

    @transaction("WhoAmI", read_only=True, returns=DiagIdentity, refusals=(NOT_AUTHORIZED,))
    def who_am_i(self, ctx: Context) -> DiagIdentity:
        """Diagnostics (admins only): the caller's identity as the chaincode sees it."""
        _admin(ctx)
        ident = ctx.stub.identity
        return {
            "msp_id": ident.msp_id,
            "enrollment_id": ident.enrollment_id,
            "type": ident.node_type,
            "role": ident.attribute("role") or "",
            "member_id": ident.attribute("member_id") or "",
        }
