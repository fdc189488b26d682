"""Who is calling, and how members are named on the ledger.

A member's ledger id is `<member_id attribute>@<MSP id>`: the certificate's member_id qualified by the
organization whose CA issued it. Fabric proves the MSP (the certificate chains to that org's CA), and
an organization's CA can only issue ids of its own MSP, so no organization can take, or pre-empt,
another organization's member ids. Organizations themselves are `org:<MSP id>`.
The caller's org, role and id come from the signing certificate only, never from arguments.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from careledger_protocol import (
    LOCAL_ID,
    MEMBER_ID,
    MSP_ID,
    ORG_ID,
    ORG_MEMBER_PREFIX,
    ROLES,
    ledger_member_id,
    member_org,
)
from cryptography.hazmat.primitives import hashes

from ...runtime import Context
from ._refusals import denied, invalid, precondition
from ._state import get_json

__all__ = ["ORG_MEMBER_PREFIX", "ROLES", "member_org"]  # the protocol's, for the contract's modules


def member_id(value: Any, what: str) -> str:
    if not isinstance(value, str) or not MEMBER_ID.match(value):
        raise invalid(
            f"{what} must be a member id: <id>@<MSP id>, e.g. h1-patient-1@Hospital1MSP (the id in the member's "
            "certificate, qualified by its organization)"
        )
    return value


def recipient_id(value: Any, what: str) -> str:
    """A member id, or `org:<MSP id>` for an organization."""
    if isinstance(value, str) and ORG_ID.match(value):
        return value
    return member_id(value, what)


def msp_id(value: Any, what: str) -> str:
    if not isinstance(value, str) or not MSP_ID.match(value):
        raise invalid(f"{what} must be an MSP id such as Hospital1MSP")
    return value


CONSORTIUM = "consortium"  # ("consortium",) -> the consortium's settings a decision needs (SetConsortium)


def authority_msp(ctx: Context) -> str:
    """The MSP whose auditors approve models and read every audit trail, as the ledger records it (an
    endorser's environment is never consulted in a decision: every endorser reads the same value)."""
    settings = get_json(ctx, CONSORTIUM)
    if settings is None:
        raise precondition(
            "the consortium's settings are not on the ledger yet: an admin runs SetConsortium "
            "(make network-up and make chaincode-upgrade do)"
        )
    return str(settings["authority_msp"])


@dataclass(frozen=True)
class Caller:
    msp_id: str
    role: str
    member_id: str  # the ledger id, <certificate member_id>@<msp_id>
    ctx: Context = field(compare=False, repr=False)

    @property
    def org_member(self) -> str:
        return ORG_MEMBER_PREFIX + self.msp_id

    @property
    def is_authority_auditor(self) -> bool:
        return self.role == "auditor" and self.msp_id == authority_msp(self.ctx)

    @property
    def is_staff(self) -> bool:
        """Someone who works for an organization (not a patient): sees what is granted to the organization."""
        return self.role in ("clinician", "researcher", "admin")


def caller(ctx: Context) -> Caller:
    identity = ctx.stub.identity
    role = identity.attribute("role") or ""
    local = identity.attribute("member_id") or ""
    if role not in ROLES:
        raise denied("the caller's certificate has no CareLedger role attribute; enroll with role and member_id")
    if not LOCAL_ID.match(local):
        raise denied("the caller's certificate has no valid member_id attribute (letters, digits, '.', '_', '-')")
    return Caller(msp_id=identity.msp_id, role=role, member_id=ledger_member_id(local, identity.msp_id), ctx=ctx)


def certificate_sha256(ctx: Context) -> str:
    """SHA-256 (hex) of the caller's certificate in DER, as `openssl x509 -fingerprint -sha256` shows it: which
    enrollment of a member signs (all of them carry the same member id). "" when the creator carries no readable
    certificate, which then matches nothing."""
    try:
        return ctx.stub.identity.certificate.fingerprint(hashes.SHA256()).hex()
    except ValueError:
        return ""


def require_role(who: Caller, *roles: str) -> None:
    if who.role not in roles:
        raise denied(f"role {who.role} may not do this; it needs role {' or '.join(roles)}")


def require_authority_auditor(who: Caller) -> None:
    if not who.is_authority_auditor:
        raise denied(f"only auditors of {authority_msp(who.ctx)} may do this")
