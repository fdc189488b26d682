"""`careledger` Models: list, register, approve, retire."""

from __future__ import annotations

from typing import Any

import click

from ..services import Session
from ._base import Context, JsonFile, main, with_session


# -- models -------------------------------------------------------------------------------------------------------
@main.group()
def model() -> None:
    """The model registry."""


@model.command("list")
@click.option("--model-id", default="")
@with_session
def model_list(c: Context, s: Session, model_id: str) -> None:
    items = s.models(model_id)
    c.emit(
        items,
        lambda ms: (
            "\n".join(
                f"{m['model_id']}@{m['version']}  {m['status']:<10} auc={m['metrics'].get('auc', '-')}" for m in ms
            )
            or "no models"
        ),
    )


@model.command("register")
@click.option(
    "--card",
    type=JsonFile("object", "pass the card.json written with the model"),
    required=True,
    help="model card JSON (as models/ writes it)",
)
@with_session
def model_register(c: Context, s: Session, card: dict[str, Any]) -> None:
    c.emit(s.register_model(card), lambda m: f"registered {m['model_id']}@{m['version']}")


@model.command("approve")
@click.argument("model_id")
@click.argument("version")
@with_session
def model_approve(c: Context, s: Session, model_id: str, version: str) -> None:
    c.emit(s.approve_model(model_id, version), lambda m: f"approved {m['model_id']}@{m['version']}")


@model.command("retire")
@click.argument("model_id")
@click.argument("version")
@click.option("--reason", required=True)
@with_session
def model_retire(c: Context, s: Session, model_id: str, version: str, reason: str) -> None:
    c.emit(s.retire_model(model_id, version, reason), lambda m: f"retired {m['model_id']}@{m['version']}")
