"""The contract's refusals: a code of the protocol and words for people (the client raises one exception
type per code)."""

from __future__ import annotations

from careledger_protocol import FAILED_PRECONDITION, INVALID_ARGUMENT, NOT_AUTHORIZED, NOT_FOUND

from ...runtime import ChaincodeError


def invalid(message: str) -> ChaincodeError:
    return ChaincodeError(INVALID_ARGUMENT, message)


def denied(message: str) -> ChaincodeError:
    return ChaincodeError(NOT_AUTHORIZED, message)


def not_found(message: str) -> ChaincodeError:
    return ChaincodeError(NOT_FOUND, message)


def precondition(message: str) -> ChaincodeError:
    return ChaincodeError(FAILED_PRECONDITION, message)
