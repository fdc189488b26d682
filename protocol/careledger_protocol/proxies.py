"""Proxy access: the rights a patient (or, for a patient who cannot act, their hospital's admin) gives a proxy
— a parent, guardian or caregiver with their own identity — who then acts for the patient as themselves.

A proxy is a person enrolled with role `patient` (PROXY_ROLE): someone acting privately, never through a
staff role, so that what they do for the patient is never mistaken for what their organization may do.
"""

from __future__ import annotations

from enum import StrEnum


class ProxyRight(StrEnum):
    """What a proxy may do for the patient."""

    VIEW = "view"  # the patient's records (their keys are wrapped for the proxy), grants and access log
    GRANT = "grant"  # give consent for the patient (needs VIEW: granting re-wraps record keys the proxy opens)
    REVOKE = "revoke"  # revoke the patient's consents


PROXY_RIGHTS = tuple(r.value for r in ProxyRight)
PROXY_ROLE = "patient"  # the role a proxy's certificate carries
# A right that needs another: granting shares record keys, which only a proxy who holds them can re-wrap.
PROXY_RIGHT_NEEDS: dict[str, str] = {ProxyRight.GRANT: ProxyRight.VIEW}
