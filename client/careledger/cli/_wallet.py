"""`careledger` Wallets: protect your keys with a passphrase, or export them for other Fabric tools."""

from __future__ import annotations

import os
from pathlib import Path

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


@wallet.command("export")
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False))
@pass_ctx
def wallet_export(c: Context, folder: Path) -> None:
    """Write your identity as a plain MSP folder (FOLDER/msp) for the peer CLI and other Fabric tools.

    The private key in it is NOT protected by your passphrase (CARELEDGER_PASSPHRASE opens it here):
    keep the folder private and delete it when done."""
    from .._deployment import Deployment
    from .._wallet import Wallet

    if not c.user:
        _fail("give --user", EXIT_BAD_INPUT)
    passphrase = os.environ.get("CARELEDGER_PASSPHRASE")

    def act() -> None:
        wallet_dir = Deployment.of(c.profile).wallet_dir
        msp = Wallet(wallet_dir).export_msp(c.user, folder, passphrase.encode() if passphrase else None)
        click.echo(f"warning: {msp}/keystore/key.pem holds your private key unprotected (mode 0600)", err=True)
        c.emit({"user": c.user, "msp": str(msp)}, lambda r: f"exported {c.user} to {r['msp']}")

    _run(act)
