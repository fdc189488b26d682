"""How members are named on the ledger: `<member_id>@<MSP id>`, the certificate's member_id qualified by
the organization whose CA issued it (so no organization can take another's ids); organizations are
`org:<MSP id>`."""

from __future__ import annotations

import re

ORG_MEMBER_PREFIX = "org:"
_LOCAL = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"
_MSP = r"[A-Za-z][A-Za-z0-9-]{0,39}"
LOCAL_ID = re.compile(rf"^{_LOCAL}$")  # the member_id attribute of a certificate
MEMBER_ID = re.compile(rf"^{_LOCAL}@{_MSP}$")  # a member's ledger id
ORG_ID = re.compile(rf"^{ORG_MEMBER_PREFIX}{_MSP}$")  # an organization's ledger id
MSP_ID = re.compile(rf"^{_MSP}$")


def ledger_member_id(local_id: str, msp_id: str) -> str:
    return f"{local_id}@{msp_id}"


def is_member_id(value: str) -> bool:
    return bool(MEMBER_ID.match(value))


def member_org(ledger_id: str) -> str:
    """The MSP a member id (or an `org:` id) belongs to."""
    if ledger_id.startswith(ORG_MEMBER_PREFIX):
        return ledger_id[len(ORG_MEMBER_PREFIX) :]
    return ledger_id.rpartition("@")[2]


def qualify(member: str, own_msp: str) -> str:
    """A ledger id from what a person typed: a bare id names a member of their own organization."""
    if member.startswith(ORG_MEMBER_PREFIX) or "@" in member:
        return member
    return ledger_member_id(member, own_msp)
