"""`careledger` Members: register your encryption key, show a member."""

from __future__ import annotations

import click

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
