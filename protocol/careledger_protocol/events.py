"""The names of the healthcare contract's chaincode events: the chaincode emits them, listeners match them."""

from __future__ import annotations

from enum import StrEnum


class Event(StrEnum):
    MEMBER_REGISTERED = "MemberRegistered"
    MEMBER_KEY_UPDATED = "MemberKeyUpdated"
    MEMBER_KEY_RESET = "MemberKeyReset"
    ORGANIZATION_KEY_REGISTERED = "OrganizationKeyRegistered"
    RECORD_CREATED = "RecordCreated"
    RECORD_VERSION_ADDED = "RecordVersionAdded"
    RECORD_ERASED = "RecordErased"
    CONSENT_GRANTED = "ConsentGranted"
    CONSENT_REVOKED = "ConsentRevoked"
    ACCESS_REQUESTED = "AccessRequested"
    MODEL_REGISTERED = "ModelRegistered"
    MODEL_APPROVED = "ModelApproved"
    MODEL_RETIRED = "ModelRetired"
    INFERENCES_RECORDED = "InferencesRecorded"
    CONSORTIUM_SET = "ConsortiumSet"


EVENT_NAMES = frozenset(e.value for e in Event)
