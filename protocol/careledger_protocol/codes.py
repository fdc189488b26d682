"""The refusal codes: the chaincode answers "<CODE>: <text>", and clients map each code to one exception."""

from __future__ import annotations

INVALID_ARGUMENT = "INVALID_ARGUMENT"
NOT_AUTHORIZED = "NOT_AUTHORIZED"
NOT_FOUND = "NOT_FOUND"
CONFLICT = "CONFLICT"
FAILED_PRECONDITION = "FAILED_PRECONDITION"
UNKNOWN_FUNCTION = "UNKNOWN_FUNCTION"
INTERNAL = "INTERNAL"
# A VerifyAccess verdict on an access transaction the peer asked has not committed (yet): a store asks
# again for a moment, since the client's own peer may be a block ahead of the store's.
UNKNOWN_ACCESS = "UNKNOWN_ACCESS"
# A record store's answer to an upload the ledger does not name (no such record, erased, not its current
# ciphertext): no retry changes it, so a client drops its outbox copy on it (careledger.store.NotOnLedger).
NOT_ON_LEDGER = "NOT_ON_LEDGER"
REFUSAL_CODES = (INVALID_ARGUMENT, NOT_AUTHORIZED, NOT_FOUND, CONFLICT, FAILED_PRECONDITION, UNKNOWN_FUNCTION, INTERNAL)
