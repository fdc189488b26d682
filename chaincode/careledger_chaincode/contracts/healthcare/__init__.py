"""The CareLedger healthcare contract: members, records, consent, audited access, models, inferences."""

from ...runtime import Contract
from .access import AccessMixin
from .approval import ApprovalMixin
from .audit import AuditMixin
from .break_glass import BreakGlassMixin
from .consent import ConsentMixin
from .custody import CustodyMixin
from .emergencies import EmergenciesMixin
from .inferences import InferencesMixin
from .key_recovery import KeyRecoveryMixin
from .members import MembersMixin
from .migration import MigrationMixin
from .models import ModelsMixin
from .oversight import OversightMixin
from .proxies import ProxiesMixin
from .records import RecordsMixin
from .requests import RequestsMixin
from .settings import SettingsMixin
from .trace import TraceMixin
from .use_log import UseLogMixin
from .verification import VerificationMixin


class HealthcareContract(
    MembersMixin,
    KeyRecoveryMixin,
    RecordsMixin,
    CustodyMixin,
    ConsentMixin,
    AccessMixin,
    VerificationMixin,
    RequestsMixin,
    EmergenciesMixin,
    BreakGlassMixin,
    AuditMixin,
    ModelsMixin,
    ApprovalMixin,
    InferencesMixin,
    TraceMixin,
    OversightMixin,
    ProxiesMixin,
    UseLogMixin,
    MigrationMixin,
    SettingsMixin,
    Contract,
):
    name = "careledger"


__all__ = ["HealthcareContract"]
