"""`careledger proxy`: name a person who may act for a patient (add), end it (revoke), and list proxies (a
patient's, or the patients you act for). A proxy then acts with `--for PATIENT` on `consent grant`,
`consent list` and `record open`, and `--patient PATIENT` on `record list` and `audit log`."""

from __future__ import annotations

from typing import Any

import click
from careledger_protocol import PROXY_RIGHTS

from ..services import Session
from ._base import Context, main, with_session


@main.group()
def proxy() -> None:
    """People who may act for a patient (a parent, guardian or caregiver)."""


def _proxy_row(p: dict[str, Any]) -> str:
    ended = f"  (revoked by {p['revoked_by']})" if p.get("revoked_by") else ""
    rights = ",".join(p["rights"])
    return (
        f"{p['proxy_id']:<28} for {p['patient_id']:<28} {rights:<18} {p['status']:<8} until {p['valid_until']}{ended}"
    )


@proxy.command("add")
@click.argument("proxy_id")
@click.option("--right", "rights", multiple=True, required=True, type=click.Choice(PROXY_RIGHTS))
@click.option("--until", required=True, help="ISO 8601 time with zone, e.g. 2027-06-30T00:00:00Z")
@click.option("--for", "for_patient", help="the patient (an admin names a proxy for a patient of its hospital)")
@with_session
def proxy_add(
    c: Context, s: Session, proxy_id: str, rights: tuple[str, ...], until: str, for_patient: str | None
) -> None:
    """Name PROXY_ID (<id>@<MSP id>; a person enrolled with role patient) to act for you (or --for PATIENT)."""
    named = s.name_proxy(proxy_id, list(rights), until, patient=for_patient)
    c.emit(named, lambda p: f"named {_proxy_row(p)}")


@proxy.command("revoke")
@click.argument("proxy_id")
@click.option("--for", "for_patient", help="the patient (an admin, or the proxy stepping down)")
@with_session
def proxy_revoke(c: Context, s: Session, proxy_id: str, for_patient: str | None) -> None:
    """End PROXY_ID's rights at once; their keys to the patient's records are purged."""
    revoked = s.revoke_proxy(proxy_id, patient=for_patient)
    c.emit(revoked, lambda p: f"revoked {_proxy_row(p)}")


@proxy.command("list")
@click.option("--for", "for_patient", help="the proxies of this patient (an admin, an auditor)")
@click.option("--mine", is_flag=True, help="the patients you act for, instead of your own proxies")
@with_session
def proxy_list(c: Context, s: Session, for_patient: str | None, mine: bool) -> None:
    items = s.patients_i_act_for() if mine else s.proxies_of(for_patient)
    c.emit(items, lambda ps: "\n".join(map(_proxy_row, ps)) or "no proxies")
