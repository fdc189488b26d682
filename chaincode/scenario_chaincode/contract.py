"""The scenario chaincode's one contract: every group of functions under its plain name."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import NoReturn

from careledger_chaincode.runtime import Router

from .basic import BasicFunctions
from .failures import FailureFunctions
from .private import PrivateDataFunctions
from .sbe import EndorsementPolicyFunctions


class ScenarioContract(BasicFunctions, PrivateDataFunctions, EndorsementPolicyFunctions, FailureFunctions):
    """The functions of the official scenarios' three chaincodes (basic, private, errors) in one: the
    features call each by a distinct name, so one package can back all three chaincode definitions."""


def scenario_router(peer_msp: str | None, terminate: Callable[[int], NoReturn] = os._exit) -> Router:
    """The router the server runs. `terminate` ends the process for `crash` (tests pass a stand-in);
    os._exit because a crash must not run cleanup that would answer the peer."""
    return Router([ScenarioContract(peer_msp, terminate)])
