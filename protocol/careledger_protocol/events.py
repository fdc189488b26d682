"""The names of the healthcare contract's chaincode events: the chaincode emits them, listeners match them."""

from __future__ import annotations

from enum import StrEnum


class Event(StrEnum):
    MEMBER_REGISTERED = "MemberRegistered"
    MEMBER_KEY_UPDATED = "MemberKeyUpdated"
    MEMBER_KEY_RESET = "MemberKeyReset"
    ORGANIZATION_KEY_REGISTERED = "OrganizationKeyRegistered"
    MEMBER_KEY_COMPROMISED = "MemberKeyCompromised"  # a member's key was lost or left: nothing is wrapped for it again
    KEY_RECOVERY_OPENED = "KeyRecoveryOpened"  # an org admin, after identity proofing, opened a member's key recovery
    MEMBER_KEY_RECOVERED = "MemberKeyRecovered"  # the re-enrolled member registered its new key
    MEMBER_KEYS_REWRAPPED = "MemberKeysRewrapped"  # a custodian re-wrapped record keys for a recovered member's new key
    RECORD_CREATED = "RecordCreated"
    RECORD_VERSION_ADDED = "RecordVersionAdded"
    RECORD_ERASED = "RecordErased"
    CONSENT_GRANTED = "ConsentGranted"
    CONSENT_REVOKED = "ConsentRevoked"
    CONSENT_REQUESTED = "ConsentRequested"  # a clinician or researcher asked a patient for access
    CONSENT_REQUEST_ANSWERED = "ConsentRequestAnswered"  # the patient approved (with a grant) or declined
    EMERGENCY_KEYS_RELEASED = "EmergencyKeysReleased"  # the custodian re-wrapped keys for an emergency requester
    EMERGENCY_REVIEWED = "EmergencyReviewed"  # an emergency access was judged justified or not
    ACCESS_REQUESTED = "AccessRequested"
    MODEL_REGISTERED = "ModelRegistered"
    MODEL_APPROVED = "ModelApproved"
    MODEL_RETIRED = "ModelRetired"
    APPROVAL_POLICY_SET = "ApprovalPolicySet"
    INFERENCES_RECORDED = "InferencesRecorded"
    INFERENCE_REVIEWED = "InferenceReviewed"
    OUTCOME_RECORDED = "OutcomeRecorded"
    MODEL_SUSPENDED = "ModelSuspended"  # an outcome's check found a monitoring bound crossed: an alert for auditors
    CONSORTIUM_SET = "ConsortiumSet"
    PROXY_SET = "ProxySet"  # a patient (or their hospital's admin) named a proxy with rights
    PROXY_REVOKED = "ProxyRevoked"


EVENT_NAMES = frozenset(e.value for e in Event)
