"""`careledger` Members: register your encryption key, show a member; compromised keys and key recovery."""

from __future__ import annotations

import click
from careledger_protocol import COMPROMISE_REASONS, PROOFING_METHODS, KeyRecovery

from ..errors import NotFoundError
from ..services import Session
from ._base import Context, main, with_session


# -- members ------------------------------------------------------------------------------------------------------
@main.group()
def member() -> None:
    """Members and their encryption keys."""


@member.command("register")
@with_session
def member_register(c: Context, s: Session) -> None:
    """Create your encryption key (kept in your wallet) and register it on the ledger."""
    c.emit(s.register(), lambda m: f"registered {m['id']} ({m['role']}, {m['org']})")


@member.command("show")
@click.argument("member_id")
@with_session
def member_show(c: Context, s: Session, member_id: str) -> None:
    c.emit(s.member(member_id))


# -- compromised keys and key recovery ------------------------------------------------------------------------------
def _recovery_line(r: KeyRecovery) -> str:
    done = sum(c["rewrapped"] for c in r.get("custodians", {}).values())
    due = sum(c["to_rewrap"] for c in r.get("custodians", {}).values())
    opened = f"opened by {r['opened_by']} on {r['opened_at']}"
    return f"key recovery of {r['member_id']}: {r['status']} ({opened}; {done} of {due} re-wrapped)"


@member.command("fingerprint")
@with_session
def member_fingerprint(c: Context, s: Session) -> None:
    """The SHA-256 of your certificate: tell it to your hospital's admin when it recovers your key."""
    c.emit({"certificate_sha256": s.certificate_sha256()}, lambda d: d["certificate_sha256"])


@member.command("report-compromised")
@click.argument("member_id")
@click.option("--reason", type=click.Choice(COMPROMISE_REASONS), required=True)
@with_session
def member_report_compromised(c: Context, s: Session, member_id: str, reason: str) -> None:
    """(admin, or the member) Nothing is wrapped for or released to MEMBER_ID's current key any more. Revoke the
    certificate too: careledger-network revoke."""
    c.emit(s.report_key_compromised(member_id, reason), lambda m: f"the key of {m['id']} is compromised from now on")


@member.command("recover")
@click.argument("member_id")
@click.option("--certificate-sha256", required=True, help="of the certificate the CA enrolled for the member")
@click.option("--proofing", type=click.Choice(PROOFING_METHODS), required=True, help="how you proved who they are")
@with_session
def member_recover(c: Context, s: Session, member_id: str, certificate_sha256: str, proofing: str) -> None:
    """(admin) Recover the key of MEMBER_ID, who lost it, after identity proofing: the old key is compromised, and
    only the named certificate registers the new one (`careledger member register-recovered`)."""
    c.emit(s.open_key_recovery(member_id, certificate_sha256, proofing), _recovery_line)


@member.command("register-recovered")
@with_session
def member_register_recovered(c: Context, s: Session) -> None:
    """Register your new encryption key, from the enrollment your hospital's admin named in your key recovery."""
    c.emit(s.register_recovered_key(), _recovery_line)


@member.command("recovery")
@click.argument("member_id", required=False)
@with_session
def member_recovery(c: Context, s: Session, member_id: str | None) -> None:
    """The latest key recovery of MEMBER_ID (yours by default)."""
    recovery = s.key_recovery(member_id)
    if recovery is None:
        raise NotFoundError(f"no key recovery for {member_id or 'you'}")
    c.emit(recovery, _recovery_line)


@member.command("rewrap")
@click.argument("member_id")
@with_session
def member_rewrap(c: Context, s: Session, member_id: str) -> None:
    """(custodian admin, with --org-key-from) Re-wrap this organization's record keys for MEMBER_ID's new key."""
    recovery = s.rewrap_recovered_keys(member_id)
    c.emit(recovery, lambda r: _recovery_line(r) if r else f"nothing of {member_id} to re-wrap here")
