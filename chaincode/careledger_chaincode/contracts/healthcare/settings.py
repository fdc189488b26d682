"""The consortium's settings a chaincode decision needs (which organization's auditors are the health
authority), kept on the ledger so that every endorser decides from the same value.

An organization's admin writes them once (`make network-up` and `make chaincode-upgrade` do). Each
endorsing peer's chaincode server checks the proposed value against the configuration its organization
gave it (CARELEDGER_AUTHORITY_MSP, from network/consortium.yaml) and refuses a different one, so the
settings need the agreement of the majority the endorsement policy asks for. They cannot change later.
"""

from __future__ import annotations

import os
from typing import Any

from careledger_protocol import CONFLICT, FAILED_PRECONDITION, INVALID_ARGUMENT, NOT_AUTHORIZED, Event, documents

from ...runtime import ChaincodeError, Context, transaction
from . import _schemas as schema
from ._arguments import Shape, json_object
from ._caller import CONSORTIUM, caller, msp_id, require_role
from ._refusals import precondition
from ._state import event, get_json, put_json

SETTINGS = schema.object_of({"authority_msp": schema.MSP})


class SettingsMixin:
    @transaction(
        "SetConsortium",
        arguments={"settings_json": SETTINGS},
        returns=documents.Consortium,
        events=(Event.CONSORTIUM_SET,),
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED, CONFLICT, FAILED_PRECONDITION),
    )
    def set_consortium(self, ctx: Context, settings_json: str) -> dict[str, Any]:
        """An admin records the consortium settings once (at network set-up or upgrade); each endorser checks them
        against its own configuration, and they cannot change after."""
        who = caller(ctx)
        require_role(who, "admin")
        shape = Shape(json_object(settings_json, "settings"), "settings", *schema.fields(SETTINGS))
        settings = {"authority_msp": shape.string("authority_msp", msp_id)}
        configured = os.environ.get("CARELEDGER_AUTHORITY_MSP")
        if configured and configured != settings["authority_msp"]:
            raise precondition(
                f"this endorsing organization's chaincode server is configured with the authority {configured}, "
                f"not {settings['authority_msp']}: the organizations must agree"
            )
        current = get_json(ctx, CONSORTIUM)
        if current == settings:
            return current
        if current is not None:
            raise ChaincodeError(CONFLICT, f"the consortium's settings are set already: {current}")
        put_json(ctx, settings, CONSORTIUM)
        event(ctx, Event.CONSORTIUM_SET, settings)
        return settings

    @transaction("GetConsortium", read_only=True, returns=documents.Consortium, refusals=(NOT_AUTHORIZED,))
    def get_consortium(self, ctx: Context) -> dict[str, Any]:
        """The consortium settings the contract decides with (the health authority's MSP); any member may read them."""
        caller(ctx)
        return get_json(ctx, CONSORTIUM) or {}
