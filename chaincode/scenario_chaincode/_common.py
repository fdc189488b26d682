"""What every group of scenario functions shares: the base contract (which knows its peer's
organization and how to stop the process), the error the scenarios assert on, and input checks."""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn

from careledger_chaincode.runtime import ChaincodeError, Contract
from careledger_protocol import INVALID_ARGUMENT

# The scenarios only ever store short words; the cap keeps a caller from bloating the shared channel's
# ledger through a test chaincode.
MAX_VALUE = 64 * 1024
MAX_KEY = 256
MAX_MSP_ID = 64
# Only the log line of a ScenarioError carries this code; the caller sees the bare text.
SCENARIO_FAILURE = "SCENARIO_FAILURE"


class ScenarioError(ChaincodeError):
    """A failure whose text the scenarios match: status 500 and the bare message, which is what chaincode
    written with Fabric's contract APIs answers. Our runtime's own refusals (status 400, "<CODE>: ...")
    stay in use for malformed input, where no scenario looks at the wording."""

    status = 500

    def __init__(self, text: str, *, log_text: str | None = None) -> None:
        # The runtime logs `.message`: `log_text` keeps caller-chosen text (errorMessage) out of the logs.
        super().__init__(SCENARIO_FAILURE, text if log_text is None else log_text)
        self.text = text

    def __str__(self) -> str:
        return self.text


def invalid(message: str) -> ChaincodeError:
    return ChaincodeError(INVALID_ARGUMENT, message)


def checked_key(key: str) -> str:
    """A simple key: U+0000 would put it in the composite-key namespace, which no scenario uses."""
    if not key or len(key) > MAX_KEY or "\x00" in key:
        raise invalid(f"key must be 1-{MAX_KEY} characters without U+0000")
    return key


def checked_size(raw: bytes) -> bytes:
    if len(raw) > MAX_VALUE:
        raise invalid(f"value must be at most {MAX_VALUE} bytes")
    return raw


def checked_value(value: str) -> bytes:
    return checked_size(value.encode())


def checked_msp(msp_id: str) -> str:
    """An MSP id as configtx allows it. A misspelt but well-formed id still locks a key for good when
    named in its endorsement policy: no peer of that org will ever endorse."""
    if not (0 < len(msp_id) <= MAX_MSP_ID) or not all(c.isalnum() or c in "._-" for c in msp_id):
        raise invalid(f"an MSP id is 1-{MAX_MSP_ID} letters, digits, '.', '_' or '-'")
    return msp_id


class ScenarioBase(Contract):
    """The functions live in mixins (basic, private, sbe, failures), each a subclass of this one, so that
    one Router serves them all under their plain names: the scenarios name no contract."""

    name = "scenario"

    def __init__(self, peer_msp: str | None, terminate: Callable[[int], NoReturn]) -> None:
        self._peer_msp = peer_msp
        self._terminate = terminate

    def peer_msp(self) -> str:
        """The endorsing peer's organization. A chaincode server cannot learn it from the peer's stream,
        so it is configured (CORE_PEER_LOCALMSPID, the variable Fabric's own shims read)."""
        if not self._peer_msp:
            raise ScenarioError("this chaincode server was started without its peer's MSP id (CORE_PEER_LOCALMSPID)")
        return self._peer_msp
