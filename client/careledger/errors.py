"""The exception tree of the careledger package.

CareLedgerError
├── IdentityError            wallet, key or certificate problems
├── IntegrityError           a ciphertext or wrapped key was altered, or belongs to another record
├── NotFoundError            a named record, member or grant does not exist
├── CAError                  a Fabric CA refused or could not be reached
└── GatewayError             anything that went wrong talking to a Fabric Gateway
    ├── EndorseError         the proposal was not endorsed (carries the peers' messages)
    │   └── ChaincodeRefusal the chaincode refused it: `code` and `reason`, one subclass per code
    │       ├── InvalidArgument, NotAuthorized, Conflict, FailedPrecondition, UnknownFunction
    │       ├── NotFound     (also a NotFoundError)
    │       └── ChaincodeFailed   the chaincode failed (INTERNAL): a bug, not a refusal
    ├── SubmitError          the orderer did not accept the endorsed transaction
    ├── CommitStatusError    the commit status could not be obtained
    └── CommitError          the transaction was committed invalid (carries the validation code)

Every GatewayError carries the transaction id it concerns. A chaincode's refusal is recognised once, at
the gateway boundary (the gateway client's error mapping), and caught by type everywhere else.
"""

from __future__ import annotations

from typing import NamedTuple, TypedDict, Unpack

from careledger_protocol import codes


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


class PeerMessage(NamedTuple):
    """What one peer said about a failed request."""

    address: str
    msp_id: str
    message: str

    def __str__(self) -> str:
        return f"{self.address} ({self.msp_id}): {self.message}"


class GatewayContext(TypedDict, total=False):
    """What a GatewayError tells beside its message (the arguments of GatewayError after the message)."""

    transaction_id: str
    grpc_status: str
    details: tuple[PeerMessage, ...]


class GatewayError(CareLedgerError):
    def __init__(
        self,
        message: str,
        transaction_id: str = "",
        grpc_status: str = "",
        details: tuple[PeerMessage, ...] = (),
    ) -> None:
        detail_text = "".join(f"\n  {d}" for d in details)
        super().__init__(f"{message}{detail_text}")
        self.transaction_id = transaction_id
        self.grpc_status = grpc_status
        self.details = details


class EndorseError(GatewayError):
    pass


class ChaincodeRefusal(EndorseError):
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


class SubmitError(GatewayError):
    pass


class CommitStatusError(GatewayError):
    pass


class CommitError(GatewayError):
    def __init__(self, message: str, transaction_id: str, validation_code: str, block_number: int) -> None:
        super().__init__(message, transaction_id)
        self.validation_code = validation_code
        self.block_number = block_number
