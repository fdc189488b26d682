"""`careledger`: the command group, who you are (Context), and how failures become exit codes.

The commands live in their own modules (members, records, consent, audit, models, wallet).

Who you are: --org and --user (a wallet identity of the local network), or --profile FILE.
Output is human-readable, or JSON with --json. Exit codes:
    0 done   1 refused by the ledger or a store   2 bad input   3 not found   4 network unavailable
    (also: a record registered whose upload waits in the outbox)   5 integrity failure (tampered or
    mismatched data)
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Concatenate, NoReturn, ParamSpec

import click

from .. import fhir
from ..errors import (
    CareLedgerError,
    ChaincodeRefusal,
    CommitError,
    EndorseError,
    GatewayError,
    IdentityError,
    IntegrityError,
    InvalidArgument,
    NotFound,
    NotFoundError,
    SubmitError,
    UnknownFunction,
    UploadPendingError,
)
from ..services import Session
from ..store import StoreError

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


# The refusals that are not "refused" to a shell script: the rest exit EXIT_REFUSED.
_REFUSAL_EXITS: dict[type[ChaincodeRefusal], int] = {
    NotFound: EXIT_NOT_FOUND,
    InvalidArgument: EXIT_BAD_INPUT,
    UnknownFunction: EXIT_BAD_INPUT,
}


def _run(action: Callable[[], None]) -> None:
    """Map every failure to a clear message and a meaningful exit code."""
    try:
        action()
    except ChaincodeRefusal as exc:
        _fail(f"{exc.code}: {exc.reason}", _REFUSAL_EXITS.get(type(exc), EXIT_REFUSED))
    except EndorseError as exc:
        _fail(f"the network could not endorse the request: {exc}", EXIT_UNAVAILABLE)
    except (SubmitError, CommitError) as exc:
        _fail(f"{exc} (transaction {exc.transaction_id}); it is safe to retry", EXIT_UNAVAILABLE)
    except GatewayError as exc:
        _fail(f"{exc}", EXIT_UNAVAILABLE)
    except IntegrityError as exc:
        _fail(str(exc), EXIT_INTEGRITY)
    except UploadPendingError as exc:  # registered, its upload waits in the outbox: `careledger record flush`
        _fail(str(exc), EXIT_UNAVAILABLE)
    except StoreError as exc:
        _fail(str(exc), EXIT_NOT_FOUND if exc.status == 404 else EXIT_UNAVAILABLE if exc.status == 0 else EXIT_REFUSED)
    except NotFoundError as exc:
        _fail(str(exc), EXIT_NOT_FOUND)
    except (fhir.FHIRError, IdentityError, ValueError) as exc:
        _fail(str(exc), EXIT_BAD_INPUT)
    except CareLedgerError as exc:
        _fail(str(exc), EXIT_REFUSED)


class JsonFile(click.File):
    """A JSON document read from a file ('-' for stdin): unreadable or bad JSON is a usage error (exit 2)
    that names the file, before anything is sent."""

    name = "json file"

    def __init__(self, expect: str, hint: str) -> None:
        super().__init__("r")
        self.expect, self.hint = expect, hint  # what the document must be, and where to get a good one

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        file = super().convert(value, param, ctx)
        label = "stdin" if value == "-" else click.format_filename(value)
        try:
            doc = json.load(file)
        except ValueError as exc:
            self.fail(f"{label} is not JSON ({exc}): {self.hint}", param, ctx)
        if self.expect == "object" and not isinstance(doc, dict):
            self.fail(f"{label} holds no JSON object: {self.hint}", param, ctx)
        return doc


pass_ctx = click.make_pass_decorator(Context)
P = ParamSpec("P")


def with_session(command: Callable[Concatenate[Context, Session, P], None]) -> Callable[P, None]:
    """A command run in a session of the --user: `command(c, s, *options)`, its failures mapped by _run."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        c = click.get_current_context().find_object(Context)
        if c is None:
            raise click.UsageError("no CareLedger context: run the command through `careledger`")

        def act() -> None:
            with c.session() as s:
                command(c, s, *args, **kwargs)

        _run(act)

    return run


def _grant_row(g: dict[str, Any]) -> str:
    purposes = ",".join(g["purposes"])
    row = f"{g['id']}  -> {g['grantee']:<20} {purposes:<24} {g['status']:<8} until {g['valid_until']}"
    by_proxy = (("granted", "granted_by"), ("revoked", "revoked_by"))  # set when a proxy acted for the patient
    return row + "".join(f"  ({what} by {g[key]} for {g['patient_id']})" for what, key in by_proxy if g.get(key))


def _event_row(e: dict[str, Any]) -> str:
    flag = " EMERGENCY" if e["emergency"] else ""
    who = f"{e['requester']:<18} {e['purpose']:<12} {e['record_id']:<40}"
    acting = f" by {e['requester']} for {e['on_behalf_of']}" if e.get("on_behalf_of") else ""
    return f"{e['time']}  {who} {e['decision']}{flag}{acting}  ({e['reason']})"


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
