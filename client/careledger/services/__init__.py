"""What each role does, as one session object: used by the CLI, the apps and the tests.

    with Session.open(profile, "h1-clinician-1") as s:
        record = s.create_record("h1-patient-1", observation, category="laboratory")
        opened = s.open_records([record["id"]], purpose=Purpose.TREATMENT)

Writes are retried on MVCC read conflicts (another transaction changed what this one read); every other
ledger refusal is raised as its ChaincodeRefusal type. No clinical content is ever logged.
"""

from __future__ import annotations

from ._access import AccessFlows
from ._consent import ConsentFlows
from ._core import OpenedRecord, Refused, SealedRecord, SessionCore, endorsers_disagreed, unwrap_record_key
from ._emergencies import EmergencyFlows, EmergencyOpening
from ._key_recovery import KeyRecoveryFlows
from ._models import ModelFlows
from ._proxies import ProxyFlows
from ._records import RecordFlows, open_sealed
from ._requests import RequestFlows


class Session(RequestFlows, EmergencyFlows, ProxyFlows, ModelFlows, KeyRecoveryFlows):
    """A member's session: the core (connection, identity, members, stores) and every flow: access and
    audit (AccessFlows), records (RecordFlows), consent (ConsentFlows) and its requests (RequestFlows),
    emergencies across hospitals and their review (EmergencyFlows), proxies (ProxyFlows), models
    (ModelFlows), compromised keys and key recovery (KeyRecoveryFlows). Each returns the typed document the
    ledger answers with (careledger_protocol.documents)."""


__all__ = [
    "AccessFlows",
    "ConsentFlows",
    "EmergencyFlows",
    "EmergencyOpening",
    "KeyRecoveryFlows",
    "ModelFlows",
    "OpenedRecord",
    "ProxyFlows",
    "RecordFlows",
    "Refused",
    "RequestFlows",
    "SealedRecord",
    "Session",
    "SessionCore",
    "endorsers_disagreed",
    "open_sealed",
    "unwrap_record_key",
]
