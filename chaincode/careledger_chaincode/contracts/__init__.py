"""The contracts served by the CareLedger chaincode server; the first one is the default."""

from ..runtime import Contract
from .diagnostics import DiagnosticsContract
from .healthcare import HealthcareContract


def all_contracts() -> list[Contract]:
    return [HealthcareContract(), DiagnosticsContract()]
