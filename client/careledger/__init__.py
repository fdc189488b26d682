"""careledger: the Python client of the CareLedger consortium.

Public surface: connecting from a profile and a wallet (`careledger.connection`, over the separate
`fabric_gateway` client), identities and their keys
(`CAClient`, `Wallet`, `SigningIdentity`, the key helpers, `write_msp`), crash-safe file writes
(`write_atomic`) and the exception tree (`careledger.errors`). Importing careledger configures no logging.
"""

from ._ca_client import Attribute, CAClient, Enrollment
from ._files import write_atomic
from ._signing import SigningIdentity, load_private_key, new_private_key, private_key_pem, subject_alternative_names
from ._wallet import Wallet, write_msp
from .errors import (
    CAError,
    CareLedgerError,
    CommitError,
    CommitStatusError,
    EndorseError,
    GatewayError,
    IdentityError,
    NotFoundError,
    SubmitError,
)

__version__ = "0.1.0"

__all__ = [
    "Attribute",
    "CAClient",
    "CAError",
    "CareLedgerError",
    "CommitError",
    "CommitStatusError",
    "EndorseError",
    "Enrollment",
    "GatewayError",
    "IdentityError",
    "NotFoundError",
    "SigningIdentity",
    "SubmitError",
    "Wallet",
    "load_private_key",
    "new_private_key",
    "private_key_pem",
    "subject_alternative_names",
    "write_atomic",
    "write_msp",
]
