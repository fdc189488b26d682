"""`careledger`: every CareLedger flow from a shell.

Who you are: --org and --user (a wallet identity of the local network), or --profile FILE.
Output is human-readable, or JSON with --json. Exit codes:
    0 done   1 refused by the ledger or a store   2 bad input   3 not found   4 network unavailable
    5 integrity failure (tampered or mismatched data)
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import click
from careledger_protocol import PURPOSES

from . import crypto, fhir
from .errors import (
    CareLedgerError,
    ChaincodeRefusal,
    CommitError,
    EndorseError,
    GatewayError,
    IdentityError,
    InvalidArgument,
    NotFound,
    NotFoundError,
    SubmitError,
    UnknownFunction,
)
from .services import OpenedRecord, Session
from .store import StoreError

EXIT_REFUSED, EXIT_BAD_INPUT, EXIT_NOT_FOUND, EXIT_UNAVAILABLE, EXIT_INTEGRITY = 1, 2, 3, 4, 5


class Context:
    def __init__(self, profile: Path, user: str, as_json: bool, org_key_from: str | None) -> None:
        self.profile, self.user, self.as_json, self.org_key_from = profile, user, as_json, org_key_from

    @contextmanager
    def session(self) -> Iterator[Session]:
        if not self.user:
            raise click.UsageError("give --user (a wallet identity, e.g. h1-clinician-1)")
        passphrase = os.environ.get("CARELEDGER_PASSPHRASE")
        with Session.open(
            self.profile, self.user, passphrase.encode() if passphrase else None, org_key_from=self.org_key_from
        ) as session:
            yield session

    def emit(self, value: Any, human: Callable[[Any], str] | None = None) -> None:
        if self.as_json or human is None:
            click.echo(json.dumps(value, indent=2, sort_keys=True, default=str))
        else:
            click.echo(human(value))


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _run(action: Callable[[], None]) -> None:
    """Map every failure to a clear message and a meaningful exit code."""
    try:
        action()
    except NotFound as exc:
        _fail(f"{exc.code}: {exc.reason}", EXIT_NOT_FOUND)
    except (InvalidArgument, UnknownFunction) as exc:
        _fail(f"{exc.code}: {exc.reason}", EXIT_BAD_INPUT)
    except ChaincodeRefusal as exc:
        _fail(f"{exc.code}: {exc.reason}", EXIT_REFUSED)
    except EndorseError as exc:
        _fail(f"the network could not endorse the request: {exc}", EXIT_UNAVAILABLE)
    except (SubmitError, CommitError) as exc:
        _fail(f"{exc} (transaction {exc.transaction_id}); it is safe to retry", EXIT_UNAVAILABLE)
    except GatewayError as exc:
        _fail(f"{exc}", EXIT_UNAVAILABLE)
    except crypto.IntegrityError as exc:
        _fail(str(exc), EXIT_INTEGRITY)
    except StoreError as exc:
        _fail(str(exc), EXIT_NOT_FOUND if exc.status == 404 else EXIT_UNAVAILABLE if exc.status == 0 else EXIT_REFUSED)
    except NotFoundError as exc:
        _fail(str(exc), EXIT_NOT_FOUND)
    except (fhir.FHIRError, IdentityError, ValueError) as exc:
        _fail(str(exc), EXIT_BAD_INPUT)
    except CareLedgerError as exc:
        _fail(str(exc), EXIT_REFUSED)


pass_ctx = click.make_pass_decorator(Context)


def _grant_row(g: dict[str, Any]) -> str:
    purposes = ",".join(g["purposes"])
    return f"{g['id']}  -> {g['grantee']:<20} {purposes:<24} {g['status']:<8} until {g['valid_until']}"


def _event_row(e: dict[str, Any]) -> str:
    flag = " EMERGENCY" if e["emergency"] else ""
    who = f"{e['requester']:<18} {e['purpose']:<12} {e['record_id']:<40}"
    return f"{e['time']}  {who} {e['decision']}{flag}  ({e['reason']})"


@click.group()
@click.option("--org", envvar="CARELEDGER_ORG", help="organization of the local network (hospital1, ...)")
@click.option("--user", envvar="CARELEDGER_USER", default="", help="wallet identity, e.g. h1-clinician-1")
@click.option("--profile", type=click.Path(path_type=Path), envvar="CARELEDGER_PROFILE", help="connection profile")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@click.option("--org-key-from", help="wallet identity holding the organization key (hospital systems only)")
@click.pass_context
def main(
    ctx: click.Context, org: str | None, user: str, profile: Path | None, as_json: bool, org_key_from: str | None
) -> None:
    """CareLedger: patient-controlled health records on the consortium ledger."""
    state = Path(os.environ.get("CARELEDGER_STATE", "network/state"))
    if profile is None:
        if org:
            profile = state / "profiles" / f"{org.lower()}.json"
        else:
            raise click.UsageError("give --org (e.g. hospital1) or --profile")
    if not profile.exists():
        _fail(f"no connection profile at {profile}: is the network up (`make network-up`)?", EXIT_UNAVAILABLE)
    ctx.obj = Context(profile, user, as_json, org_key_from)


# -- members ------------------------------------------------------------------------------------------------------
@main.group()
def member() -> None:
    """Members and their encryption keys."""


@member.command("register")
@pass_ctx
def member_register(c: Context) -> None:
    """Create your encryption key (kept in your wallet) and register it on the ledger."""

    def act() -> None:
        with c.session() as s:
            c.emit(s.register(), lambda m: f"registered {m['id']} ({m['role']}, {m['org']})")

    _run(act)


@member.command("show")
@click.argument("member_id")
@pass_ctx
def member_show(c: Context, member_id: str) -> None:
    def act() -> None:
        with c.session() as s:
            c.emit(s.evaluate("GetMember", s.qualify(member_id)))

    _run(act)


# -- records ------------------------------------------------------------------------------------------------------
@main.group()
def record() -> None:
    """Encrypted records: create, list, open, rotate, erase."""


@record.command("create")
@click.option("--patient", required=True)
@click.option("--category", required=True, help="e.g. laboratory, imaging, vital-signs")
@click.option("--file", "path", type=click.File("rb"), required=True, help="FHIR R4 resource as JSON ('-' for stdin)")
@pass_ctx
def record_create(c: Context, patient: str, category: str, path: Any) -> None:
    """Validate, encrypt, store at your hospital, and register a record."""

    def act() -> None:
        try:
            resource = json.load(path)
        except ValueError as exc:
            raise ValueError(f"{getattr(path, 'name', 'the input')} is not JSON: {exc}") from None
        with c.session() as s:
            c.emit(s.create_record(patient, resource, category), lambda r: f"created {r['id']} (v{r['version']})")

    _run(act)


@record.command("list")
@click.option("--patient", help="patient id (default: yourself)")
@pass_ctx
def record_list(c: Context, patient: str | None) -> None:
    def act() -> None:
        with c.session() as s:
            items = s.all_pages("ListPatientRecords", s.qualify(patient) if patient else s.member_id())
            c.emit(
                items,
                lambda rs: (
                    "\n".join(
                        f"{r['id']}  {r['category']:<14} {r['resource_type']:<18} v{r['version']} {r['status']}"
                        for r in rs
                    )
                    or "no records"
                ),
            )

    _run(act)


@record.command("open")
@click.argument("record_ids", nargs=-1, required=True)
@click.option("--purpose", type=click.Choice(PURPOSES), default="treatment")
@click.option("--emergency", "justification", help="break-glass access with this written justification")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), help="write each record to OUT/<id>.json")
@pass_ctx
def record_open(
    c: Context, record_ids: tuple[str, ...], purpose: str, justification: str | None, out: Path | None
) -> None:
    """Request access (recorded on the ledger), fetch, verify and decrypt the allowed records."""

    def act() -> None:
        with c.session() as s:
            results = []
            batches = [list(record_ids[i : i + 100]) for i in range(0, len(record_ids), 100)]
            with click.progressbar(batches, label="opening", file=sys.stderr, show_pos=True) as bar:
                for batch in bar:
                    results.extend(s.open_records(batch, purpose, justification))
            rows = []
            for r in results:
                if isinstance(r, OpenedRecord):
                    if out:
                        out.mkdir(parents=True, exist_ok=True)
                        (out / f"{r.record_id}.json").write_text(json.dumps(r.resource, indent=2))
                    rows.append(
                        {
                            "record_id": r.record_id,
                            "opened": True,
                            "version": r.version,
                            "access_tx_id": r.access_tx_id,
                            **({} if out else {"resource": r.resource}),
                        }
                    )
                else:
                    rows.append({"record_id": r.record_id, "opened": False, "reason": r.reason})
            c.emit(
                rows,
                lambda rs: "\n".join(
                    f"{x['record_id']}: "
                    + (
                        "opened" + (f" -> {out}" if out else "\n" + json.dumps(x.get("resource"), indent=2))
                        if x["opened"]
                        else f"refused: {x['reason']}"
                    )
                    for x in rs
                ),
            )
            if not any(x["opened"] for x in rows):
                sys.exit(EXIT_REFUSED)

    _run(act)


@record.command("rotate")
@click.argument("record_id")
@pass_ctx
def record_rotate(c: Context, record_id: str) -> None:
    """Re-encrypt a record under a new key for its current recipients (e.g. after a revocation)."""

    def act() -> None:
        with c.session() as s:
            c.emit(s.rotate_record(record_id), lambda r: f"{r['id']} is now v{r['version']}")

    _run(act)


@record.command("erase")
@click.argument("record_id")
@click.confirmation_option(prompt="Erasing destroys the record's keys and ciphertext for good. Continue?")
@pass_ctx
def record_erase(c: Context, record_id: str) -> None:
    def act() -> None:
        with c.session() as s:
            c.emit(s.erase(record_id), lambda r: f"{r['id']} erased at {r['erased_at']}")

    _run(act)


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
@pass_ctx
def consent_grant(
    c: Context,
    grantee: str,
    records: tuple[str, ...],
    categories: tuple[str, ...],
    purposes: tuple[str, ...],
    until: str,
) -> None:
    if not records and not categories:
        _fail("give at least one --record or --category", EXIT_BAD_INPUT)

    def act() -> None:
        with c.session() as s:
            grant = s.grant(grantee, list(purposes), until, list(records) or None, list(categories) or None)
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
@pass_ctx
def consent_revoke(c: Context, grant_id: str, rotate: bool) -> None:
    def act() -> None:
        with c.session() as s:
            grant = s.revoke(grant_id)
            rotated = [s.rotate_record(r)["version"] for r in grant["keyed_records"]] if rotate else []
            c.emit(
                {**grant, "rotated": len(rotated)},
                lambda g: f"revoked {g['id']}" + (f"; {g['rotated']} records re-keyed" if rotate else ""),
            )

    _run(act)


@consent.command("list")
@click.option("--grantee", help="list grants to this grantee instead of your own")
@pass_ctx
def consent_list(c: Context, grantee: str | None) -> None:
    def act() -> None:
        with c.session() as s:
            items = (
                s.all_pages("ListGrantsByGrantee", s.qualify(grantee))
                if grantee
                else s.all_pages("ListGrantsByPatient", s.member_id())
            )
            c.emit(
                items,
                lambda gs: "\n".join(map(_grant_row, gs)) or "no grants",
            )

    _run(act)


# -- audit --------------------------------------------------------------------------------------------------------
@main.group()
def audit() -> None:
    """Access trails, verification and FHIR exports."""


@audit.command("log")
@click.option("--patient", help="patient id (default: yourself)")
@click.option("--requester", help="the trail of one requester instead")
@click.option("--all", "everything", is_flag=True, help="everything (health-authority auditors)")
@click.option("--fhir", "as_fhir", is_flag=True, help="as FHIR AuditEvent resources")
@pass_ctx
def audit_log(c: Context, patient: str | None, requester: str | None, everything: bool, as_fhir: bool) -> None:
    def act() -> None:
        with c.session() as s:
            if everything:
                events = s.all_pages("ListAllAccess")
            elif requester:
                events = s.all_pages("ListAccessByRequester", s.qualify(requester))
            else:
                events = s.all_pages("ListAccessByPatient", s.qualify(patient) if patient else s.member_id())
            if as_fhir:
                c.as_json = True
                c.emit(
                    {
                        "resourceType": "Bundle",
                        "type": "collection",
                        "entry": [{"resource": fhir.audit_event(e)} for e in events],
                    }
                )
                return
            c.emit(
                events,
                lambda es: "\n".join(map(_event_row, es)) or "no access events",
            )

    _run(act)


@audit.command("verify")
@click.argument("access_tx_id")
@click.argument("requester")
@click.argument("record_id")
@pass_ctx
def audit_verify(c: Context, access_tx_id: str, requester: str, record_id: str) -> None:
    """Did that committed transaction grant that requester that record?"""

    def act() -> None:
        with c.session() as s:
            verdict = s.evaluate("VerifyAccess", access_tx_id, s.qualify(requester), record_id)
            c.emit(verdict, lambda v: ("GRANTED" if v["granted"] else "NOT GRANTED") + f": {v['reason']}")
            if not verdict["granted"]:
                sys.exit(EXIT_REFUSED)

    _run(act)


@audit.command("check")
@click.argument("export", type=click.File("r"))
@pass_ctx
def audit_check(c: Context, export: Any) -> None:
    """Check an exported trail (`audit log --json`, or its --fhir Bundle) against the blocks themselves."""

    def act() -> None:
        from .ledger import BlockReader, verify_trail

        doc = json.load(export)
        if isinstance(doc, dict) and doc.get("resourceType") == "Bundle":
            events = [
                {"tx_id": d["valueString"]}
                for entry in doc.get("entry", [])
                for d in entry["resource"]["entity"][0].get("detail", [])
                if d.get("type") == "fabric-transaction"
            ]
        elif isinstance(doc, list):
            events = [{"tx_id": e["tx_id"]} for e in doc]
        else:
            raise ValueError("the export must be the JSON of `audit log --json` or a FHIR Bundle of AuditEvents")
        with c.session() as s:
            report = verify_trail(BlockReader(s.gateway, s.contract.network.name), events)
        summary = {
            "ok": report.ok,
            "blocks_checked": report.blocks_checked,
            "chain_head_matches": report.head_matches,
            "chain_breaks": report.chain_breaks,
            "events_checked": report.events_checked,
            "not_on_ledger": report.missing,
            "not_valid": report.invalid,
        }
        c.emit(
            summary,
            lambda r: (
                ("OK" if r["ok"] else "MISMATCH") + f": {r['events_checked']} events, {r['blocks_checked']} blocks"
            ),
        )
        if not report.ok:
            sys.exit(EXIT_INTEGRITY)

    _run(act)


@audit.command("consents")
@click.option("--patient", help="patient id (default: yourself)")
@pass_ctx
def audit_consents(c: Context, patient: str | None) -> None:
    """A patient's consents as a FHIR Bundle of Consent resources."""

    def act() -> None:
        with c.session() as s:
            grants = s.all_pages("ListGrantsByPatient", patient or s.member_id())
            c.as_json = True
            c.emit(
                {
                    "resourceType": "Bundle",
                    "type": "collection",
                    "entry": [{"resource": fhir.consent(g)} for g in grants],
                }
            )

    _run(act)


# -- models -------------------------------------------------------------------------------------------------------
@main.group()
def model() -> None:
    """The model registry."""


@model.command("list")
@click.option("--model-id", default="")
@pass_ctx
def model_list(c: Context, model_id: str) -> None:
    def act() -> None:
        with c.session() as s:
            items = s.all_pages("ListModels", model_id)
            c.emit(
                items,
                lambda ms: (
                    "\n".join(
                        f"{m['model_id']}@{m['version']}  {m['status']:<10} auc={m['metrics'].get('auc', '-')}"
                        for m in ms
                    )
                    or "no models"
                ),
            )

    _run(act)


@model.command("register")
@click.option("--card", type=click.File("r"), required=True, help="model card JSON (as models/ writes it)")
@pass_ctx
def model_register(c: Context, card: Any) -> None:
    def act() -> None:
        with c.session() as s:
            c.emit(s.submit("RegisterModel", card.read()), lambda m: f"registered {m['model_id']}@{m['version']}")

    _run(act)


@model.command("approve")
@click.argument("model_id")
@click.argument("version")
@pass_ctx
def model_approve(c: Context, model_id: str, version: str) -> None:
    def act() -> None:
        with c.session() as s:
            c.emit(s.submit("ApproveModel", model_id, version), lambda m: f"approved {m['model_id']}@{m['version']}")

    _run(act)


@model.command("retire")
@click.argument("model_id")
@click.argument("version")
@click.option("--reason", required=True)
@pass_ctx
def model_retire(c: Context, model_id: str, version: str, reason: str) -> None:
    def act() -> None:
        with c.session() as s:
            c.emit(
                s.submit("RetireModel", model_id, version, reason), lambda m: f"retired {m['model_id']}@{m['version']}"
            )

    _run(act)


# -- wallets and web apps ---------------------------------------------------------------------------------------
@main.group()
def wallet() -> None:
    """Your identity on disk."""


@wallet.command("set-passphrase")
@pass_ctx
def wallet_set_passphrase(c: Context) -> None:
    """Encrypt your keys under a passphrase (asked twice; CARELEDGER_PASSPHRASE gives the current one)."""
    from ._wallet import Wallet
    from .gateway import load_profile

    if not c.user:
        _fail("give --user", EXIT_BAD_INPUT)
    new = click.prompt("New passphrase", hide_input=True, confirmation_prompt=True)
    old = os.environ.get("CARELEDGER_PASSPHRASE")

    def act() -> None:
        meta = load_profile(c.profile).get("x-careledger", {})
        Wallet(Path(meta["wallet"])).set_passphrase(c.user, new.encode(), old.encode() if old else None)
        c.emit(
            {"user": c.user, "encrypted": True}, lambda _: f"the keys of {c.user} are now protected by your passphrase"
        )

    _run(act)


if __name__ == "__main__":
    main()
