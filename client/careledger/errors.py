"""The exception tree of the careledger package.

CareLedgerError
├── IdentityError            wallet, key or certificate problems
├── IntegrityError           a ciphertext or wrapped key was altered, or belongs to another record
├── NotFoundError            a named record, member or grant does not exist
├── CAError                  a Fabric CA refused or could not be reached
└── UploadPendingError       a record (or version) is registered on the ledger but its ciphertext did not
                             reach the custodian's store: it is kept in the upload outbox until a flush

fabric_gateway.GatewayError  anything that went wrong talking to a Fabric Gateway (re-exported here)
├── EndorseError             the proposal was not endorsed (carries the peers' messages)
│   └── ChaincodeRefusal     the chaincode refused it (also a CareLedgerError): `code` and `reason`,
│       │                    one subclass per code
│       ├── InvalidArgument, NotAuthorized, Conflict, FailedPrecondition, UnknownFunction
│       ├── NotFound         (also a NotFoundError)
│       └── ChaincodeFailed  the chaincode failed (INTERNAL): a bug, not a refusal
├── SubmitError              the orderer did not accept the endorsed transaction
├── CommitStatusError        the commit status could not be obtained
├── CommitError              the transaction was committed invalid (carries the validation code)
└── EventsError              an event stream failed

Every GatewayError carries the transaction id it concerns. A chaincode's refusal is recognised once, by
`refusal_from`, which careledger.connection hands every gateway it opens, and caught by type everywhere else.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Unpack

from careledger_protocol import codes
from fabric_gateway import (
    CommitError,
    CommitStatusError,
    EndorseError,
    EventsError,
    GatewayContext,
    GatewayError,
    PeerMessage,
    SubmitError,
)


class CareLedgerError(Exception):
    """Base class of every error raised by careledger."""


class IdentityError(CareLedgerError):
    pass


class IntegrityError(CareLedgerError):
    """Ciphertext, associated data or a wrapped key was altered, or belongs to another record."""


class NotFoundError(CareLedgerError):
    """Something named does not exist (a record, a member, a grant)."""


class CAError(CareLedgerError):
    """A Fabric CA request failed; `status` is the HTTP status when there was one."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class UploadPendingError(CareLedgerError):
    """The ledger registered a record (or a new version of one) but its ciphertext did not reach the
    custodian's record store. Nothing is lost: the ciphertext is kept in the organization's upload outbox
    (careledger.services._outbox) and uploaded by `Session.flush_outbox` (`careledger record flush`, the
    hospital app's background job, or the next record created or rotated there). `record` is the ledger's
    answer, `outbox` the file that keeps the ciphertext; the cause (a StoreError) is chained."""

    def __init__(self, message: str, record: Mapping[str, Any], outbox: Path) -> None:
        super().__init__(message)
        self.record, self.outbox = record, outbox

    @property
    def record_id(self) -> str:
        return str(self.record["id"])


class ChaincodeRefusal(EndorseError, CareLedgerError):
    """The chaincode refused the proposal; `reason` says why in words, for people."""

    code = ""

    def __init__(self, message: str, reason: str = "", **context: Unpack[GatewayContext]) -> None:
        super().__init__(message, **context)
        self.reason = reason


class InvalidArgument(ChaincodeRefusal):
    code = codes.INVALID_ARGUMENT


class NotAuthorized(ChaincodeRefusal):
    code = codes.NOT_AUTHORIZED


class NotFound(ChaincodeRefusal, NotFoundError):
    code = codes.NOT_FOUND


class Conflict(ChaincodeRefusal):
    code = codes.CONFLICT


class FailedPrecondition(ChaincodeRefusal):
    code = codes.FAILED_PRECONDITION


class UnknownFunction(ChaincodeRefusal):
    code = codes.UNKNOWN_FUNCTION


class ChaincodeFailed(ChaincodeRefusal):
    code = codes.INTERNAL


REFUSALS: dict[str, type[ChaincodeRefusal]] = {
    kind.code: kind
    for kind in (
        InvalidArgument,
        NotAuthorized,
        NotFound,
        Conflict,
        FailedPrecondition,
        UnknownFunction,
        ChaincodeFailed,
    )
}


# How a peer reports a chaincode's answer: "chaincode response <status>, <CODE>: <reason>".
_CHAINCODE_ANSWER = re.compile(r"chaincode response \d{3}, ([A-Z][A-Z_]{3,}): (.*)", re.DOTALL)


def refusal_from(error: EndorseError) -> EndorseError:
    """The ChaincodeRefusal subclass of the code the chaincode answered with (the one place a refusal's
    code is read), or the error as it was when the peers' messages carry no such answer."""
    for message in (*(d.message for d in error.details), str(error)):
        match = _CHAINCODE_ANSWER.search(message)
        if match and match.group(1) in REFUSALS:
            return REFUSALS[match.group(1)](
                str(error).split("\n", 1)[0],
                match.group(2).strip(),
                transaction_id=error.transaction_id,
                grpc_status=error.grpc_status,
                details=error.details,
            )
    return error


__all__ = [
    "REFUSALS",
    "CAError",
    "CareLedgerError",
    "ChaincodeFailed",
    "ChaincodeRefusal",
    "CommitError",
    "CommitStatusError",
    "Conflict",
    "EndorseError",
    "EventsError",
    "FailedPrecondition",
    "GatewayError",
    "IdentityError",
    "IntegrityError",
    "InvalidArgument",
    "NotAuthorized",
    "NotFound",
    "NotFoundError",
    "PeerMessage",
    "SubmitError",
    "UnknownFunction",
    "UploadPendingError",
    "refusal_from",
]
