"""`careledger` Consent: grant, revoke, list, and import a FHIR Consent."""

from __future__ import annotations

from typing import Any

import click
from careledger_protocol import PURPOSES

from ..consent_import import grants_from_consent
from ..services import Session
from ._base import EXIT_BAD_INPUT, Context, JsonFile, _fail, _grant_row, _run, main, pass_ctx, with_session


# -- consent ------------------------------------------------------------------------------------------------------
@main.group()
def consent() -> None:
    """Grant and revoke access to your records."""


@consent.command("grant")
@click.option(
    "--to",
    "grantee",
    required=True,
    help="member id (<id>@<MSP id>; a bare id is a member of your own organization), or org:<MSP id>",
)
@click.option("--record", "records", multiple=True)
@click.option("--category", "categories", multiple=True)
@click.option("--purpose", "purposes", multiple=True, required=True, type=click.Choice(PURPOSES))
@click.option("--until", required=True, help="ISO 8601 time with zone, e.g. 2027-06-30T00:00:00Z")
@click.option("--for", "for_patient", help="grant for this patient, as their proxy (with the grant right)")
@pass_ctx
def consent_grant(
    c: Context,
    grantee: str,
    records: tuple[str, ...],
    categories: tuple[str, ...],
    purposes: tuple[str, ...],
    until: str,
    for_patient: str | None,
) -> None:
    if not records and not categories:
        _fail("give at least one --record or --category", EXIT_BAD_INPUT)

    def act() -> None:
        with c.session() as s:
            grant = s.grant(
                grantee, list(purposes), until, list(records) or None, list(categories) or None, for_patient
            )
            c.emit(
                grant,
                lambda g: (
                    f"granted {g['id']} to {g['grantee']} for {', '.join(g['purposes'])} until {g['valid_until']}"
                ),
            )

    _run(act)


@consent.command("revoke")
@click.argument("grant_id")
@click.option("--rotate", is_flag=True, help="also re-encrypt the records the grant covered under new keys")
@with_session
def consent_revoke(c: Context, s: Session, grant_id: str, rotate: bool) -> None:
    grant = s.revoke(grant_id)
    rotated = [s.rotate_record(r)["version"] for r in grant["keyed_records"]] if rotate else []
    c.emit(
        {**grant, "rotated": len(rotated)},
        lambda g: f"revoked {g['id']}" + (f"; {g['rotated']} records re-keyed" if rotate else ""),
    )


@consent.command("list")
@click.option("--grantee", help="list grants to this grantee instead of your own")
@click.option("--for", "for_patient", help="the grants of this patient, as their proxy (with the view right)")
@with_session
def consent_list(c: Context, s: Session, grantee: str | None, for_patient: str | None) -> None:
    items = s.grants_to(grantee) if grantee else s.grants_of(for_patient)
    c.emit(
        items,
        lambda gs: "\n".join(map(_grant_row, gs)) or "no grants",
    )


@consent.command("import")
@click.argument("resource", type=JsonFile("object", "give a FHIR R4 Consent resource as JSON"))
@with_session
def consent_import(c: Context, s: Session, resource: dict[str, Any]) -> None:
    """Turn a FHIR Consent about you (IHE Privacy Consent on FHIR) into grants, one per actor. It is read
    whole first: when any part cannot be expressed as a grant, nothing is granted and the reason is said."""
    requests = grants_from_consent(resource, s.member_id())
    grants = [
        s.grant(r.grantee, list(r.purposes), r.valid_until, list(r.record_ids) or None, list(r.categories) or None)
        for r in requests
    ]
    c.emit(grants, lambda gs: "\n".join(_grant_row(g) for g in gs))
