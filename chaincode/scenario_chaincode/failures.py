"""Ways for a transaction to go wrong on purpose: the error scenarios (their "errors" chaincode).

Each shows the client one failure as the gateway reports it: a chaincode error from a named
organization, endorsements that disagree, and a chaincode process that dies mid-transaction."""

from __future__ import annotations

import json
import logging
import secrets
from typing import NoReturn

from careledger_chaincode.runtime import Context, transaction

from ._common import ScenarioBase, ScenarioError, checked_key, checked_msp, invalid

log = logging.getLogger("careledger.scenario")

CRASH_EXIT_CODE = 99
NONDET_KEY = "nondet"
# What orgsFail writes where no organization refuses, so that a submit commits a visible change.
ORGS_FAIL_KEY = "orgsFail"
ORGS_FAIL_VALUE = b"endorsed"


class FailureFunctions(ScenarioBase):
    @transaction("exists", read_only=True)
    def exists(self, ctx: Context, key: str) -> bool:
        """Whether the key has a value. Its one parameter lets a call without arguments be refused."""
        return ctx.stub.get_state(checked_key(key)) is not None

    @transaction("crash")
    def crash(self, ctx: Context) -> NoReturn:
        """End the chaincode server's process at once, with no answer: the peer sees its stream end.

        The process serves only this chaincode, so CareLedger's own chaincode keeps running; the
        network's supervisor starts the server again (after a back-off)."""
        log.warning("crash requested in transaction %s: exiting with %d", ctx.stub.tx_id[:12], CRASH_EXIT_CODE)
        self._terminate(CRASH_EXIT_CODE)

    @transaction("nondet")
    def nondet(self, ctx: Context) -> str:
        """Write (and answer) a value each endorser draws at random: the endorsements cannot match."""
        value = secrets.token_hex(16)
        ctx.stub.put_state(NONDET_KEY, value.encode())
        return value

    @transaction("orgsFail")
    def orgs_fail(self, ctx: Context, refusing_msps: str) -> None:
        """Fail on the peers of the organizations in the JSON list `refusing_msps`; elsewhere write a marker."""
        try:
            orgs = json.loads(refusing_msps)
        except json.JSONDecodeError:
            raise invalid("refusing_msps must be a JSON list of MSP ids") from None
        if not isinstance(orgs, list) or not all(isinstance(o, str) for o in orgs):
            raise invalid("refusing_msps must be a JSON list of MSP ids")
        for msp in orgs:
            checked_msp(msp)
        peer_msp = self.peer_msp()
        if peer_msp in orgs:
            raise ScenarioError(f"{peer_msp} refuses to endorse this")
        ctx.stub.put_state(ORGS_FAIL_KEY, ORGS_FAIL_VALUE)
