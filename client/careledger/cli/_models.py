"""`careledger` Models: list, register, approve, retire."""

from __future__ import annotations

import json
from typing import IO, Any

import click

from ..services import Session
from ._base import (
    Context,
    main,
    with_session,
)


def _card(file: IO[str]) -> dict[str, Any]:
    """The model card in `file`: a JSON object, as careledger_models writes it next to the artifact."""
    try:
        card = json.load(file)
    except ValueError as exc:
        raise ValueError(f"{file.name} is not JSON ({exc}): pass the card.json written with the model") from None
    if not isinstance(card, dict):
        raise ValueError(f"{file.name} holds no JSON object: pass the card.json written with the model")
    return card


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
@click.option("--card", type=click.File("r"), required=True, help="model card JSON (as models/ writes it)")
@with_session
def model_register(c: Context, s: Session, card: Any) -> None:
    c.emit(s.register_model(_card(card)), lambda m: f"registered {m['model_id']}@{m['version']}")


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
