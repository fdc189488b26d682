"""The CareLedger healthcare contract: members, records, consent, audited access, models, inferences."""

from ...runtime import Contract
from .access import AccessMixin
from .approval import ApprovalMixin
from .audit import AuditMixin
from .consent import ConsentMixin
from .inferences import InferencesMixin
from .members import MembersMixin
from .migration import MigrationMixin
from .models import ModelsMixin
from .oversight import OversightMixin
from .records import RecordsMixin
from .settings import SettingsMixin
from .trace import TraceMixin
from .use_log import UseLogMixin


class HealthcareContract(
    MembersMixin,
    RecordsMixin,
    ConsentMixin,
    AccessMixin,
    AuditMixin,
    ModelsMixin,
    ApprovalMixin,
    InferencesMixin,
    TraceMixin,
    OversightMixin,
    UseLogMixin,
    MigrationMixin,
    SettingsMixin,
    Contract,
):
    name = "careledger"


__all__ = ["HealthcareContract"]
