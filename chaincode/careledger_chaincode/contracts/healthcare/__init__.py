"""The CareLedger healthcare contract: members, records, consent, audited access, models, inferences."""

from ...runtime import Contract
from .access import AccessMixin
from .audit import AuditMixin
from .consent import ConsentMixin
from .inferences import InferencesMixin
from .members import MembersMixin
from .migration import MigrationMixin
from .models import ModelsMixin
from .records import RecordsMixin
from .settings import SettingsMixin


class HealthcareContract(
    MembersMixin,
    RecordsMixin,
    ConsentMixin,
    AccessMixin,
    AuditMixin,
    ModelsMixin,
    InferencesMixin,
    MigrationMixin,
    SettingsMixin,
    Contract,
):
    name = "careledger"


__all__ = ["HealthcareContract"]
