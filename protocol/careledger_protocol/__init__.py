"""CareLedger's protocol: the facts the chaincode, the client, the record stores and the apps share.

Each is defined once, here: the purposes and roles of the consent model, how members are named on the
ledger, the certificate attributes that carry role and member id, the refusal codes, the chaincode's
event names, and the private data collection. It depends on nothing of CareLedger's own, so the
chaincode may import it and still import nothing of the client.
"""

from .attributes import FABRIC_CA_ATTRIBUTES_OID, certificate_attributes
from .codes import (
    CONFLICT,
    FAILED_PRECONDITION,
    INTERNAL,
    INVALID_ARGUMENT,
    NOT_AUTHORIZED,
    NOT_FOUND,
    REFUSAL_CODES,
    UNKNOWN_ACCESS,
    UNKNOWN_FUNCTION,
)
from .events import EVENT_NAMES, Event
from .ids import (
    LOCAL_ID,
    MEMBER_ID,
    MSP_ID,
    ORG_ID,
    ORG_MEMBER_PREFIX,
    is_member_id,
    ledger_member_id,
    member_org,
    qualify,
)
from .vocabulary import (
    MIN_JUSTIFICATION_LETTERS,
    PERSON_ROLES,
    PRIVATE_COLLECTION,
    PURPOSE_ROLES,
    PURPOSES,
    RESOURCE_TYPES,
    ROLES,
    valid_justification,
)

__all__ = [
    "CONFLICT",
    "EVENT_NAMES",
    "FABRIC_CA_ATTRIBUTES_OID",
    "FAILED_PRECONDITION",
    "INTERNAL",
    "INVALID_ARGUMENT",
    "LOCAL_ID",
    "MEMBER_ID",
    "MIN_JUSTIFICATION_LETTERS",
    "MSP_ID",
    "NOT_AUTHORIZED",
    "NOT_FOUND",
    "ORG_ID",
    "ORG_MEMBER_PREFIX",
    "PERSON_ROLES",
    "PRIVATE_COLLECTION",
    "PURPOSES",
    "PURPOSE_ROLES",
    "REFUSAL_CODES",
    "RESOURCE_TYPES",
    "ROLES",
    "UNKNOWN_ACCESS",
    "UNKNOWN_FUNCTION",
    "Event",
    "certificate_attributes",
    "is_member_id",
    "ledger_member_id",
    "member_org",
    "qualify",
    "valid_justification",
]
