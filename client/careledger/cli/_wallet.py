"""`careledger` Wallets: protect your keys with a passphrase."""

from __future__ import annotations

import os

import click

from ._base import EXIT_BAD_INPUT, Context, _fail, _run, main, pass_ctx


# -- wallets and web apps ---------------------------------------------------------------------------------------
@main.group()
def wallet() -> None:
    """Your identity on disk."""


@wallet.command("set-passphrase")
@pass_ctx
def wallet_set_passphrase(c: Context) -> None:
    """Encrypt your keys under a passphrase (asked twice; CARELEDGER_PASSPHRASE gives the current one)."""
    from .._deployment import Deployment
    from .._wallet import Wallet

    if not c.user:
        _fail("give --user", EXIT_BAD_INPUT)
    new = click.prompt("New passphrase", hide_input=True, confirmation_prompt=True)
    old = os.environ.get("CARELEDGER_PASSPHRASE")

    def act() -> None:
        Wallet(Deployment.of(c.profile).wallet_dir).set_passphrase(c.user, new.encode(), old.encode() if old else None)
        c.emit(
            {"user": c.user, "encrypted": True}, lambda _: f"the keys of {c.user} are now protected by your passphrase"
        )

    _run(act)
