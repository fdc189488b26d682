"""`careledger` Members: register your encryption key, show a member."""

from __future__ import annotations

import click

from ._base import (
    Context,
    _run,
    main,
    pass_ctx,
)


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
