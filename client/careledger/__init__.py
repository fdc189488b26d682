"""careledger: the Python client of the CareLedger consortium.

Public surface: the Fabric Gateway client (`careledger.gateway`), identities (`CAClient`, `Wallet`,
`SigningIdentity`) and the exception tree (`careledger.errors`). Importing careledger configures
no logging.
"""

from ._ca_client import Attribute, CAClient, Enrollment
from ._signing import SigningIdentity
from ._wallet import Wallet
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
]
