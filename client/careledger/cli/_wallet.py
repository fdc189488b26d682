"""`careledger` Wallets: protect your keys with a passphrase."""

from __future__ import annotations

import os
from pathlib import Path

import click

from ._base import (
    EXIT_BAD_INPUT,
    Context,
    _fail,
    _run,
    main,
    pass_ctx,
)


# -- wallets and web apps ---------------------------------------------------------------------------------------
@main.group()
def wallet() -> None:
    """Your identity on disk."""


@wallet.command("set-passphrase")
@pass_ctx
def wallet_set_passphrase(c: Context) -> None:
    """Encrypt your keys under a passphrase (asked twice; CARELEDGER_PASSPHRASE gives the current one)."""
    from .._wallet import Wallet
    from ..gateway import load_profile

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
