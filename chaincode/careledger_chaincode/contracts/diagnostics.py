"""Diagnostics: a trivial key/value contract for readiness checks, benchmarks and runtime tests.

Never holds patient data: keys and values are free text chosen by operators' tools.
"""

from __future__ import annotations

import re

from ..runtime import INVALID_ARGUMENT, NOT_FOUND, ChaincodeError, Context, Contract, transaction

_KEY = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
MAX_VALUE = 64 * 1024


def _key(ctx: Context, key: str) -> str:
    if not _KEY.match(key):
        raise ChaincodeError(INVALID_ARGUMENT, "key must be 1-128 characters of letters, digits, '.', '_', ':', '-'")
    return ctx.stub.create_composite_key("diag", [key])


class DiagnosticsContract(Contract):
    name = "diag"

    @transaction("Put")
    def put(self, ctx: Context, key: str, value: str) -> None:
        if len(value.encode()) > MAX_VALUE:
            raise ChaincodeError(INVALID_ARGUMENT, f"value must be at most {MAX_VALUE} bytes")
        ctx.stub.put_state(_key(ctx, key), value.encode())
        ctx.stub.set_event("diag.Put", key.encode())

    @transaction("Get", read_only=True)
    def get(self, ctx: Context, key: str) -> str:
        value = ctx.stub.get_state(_key(ctx, key))
        if value is None:
            raise ChaincodeError(NOT_FOUND, f"no value under key {key!r}")
        return value.decode()

    @transaction("WhoAmI", read_only=True)
    def who_am_i(self, ctx: Context) -> dict[str, str]:
        ident = ctx.stub.identity
        return {
            "msp_id": ident.msp_id,
            "enrollment_id": ident.enrollment_id,
            "type": ident.node_type,
            "role": ident.attribute("role") or "",
            "member_id": ident.attribute("member_id") or "",
        }
