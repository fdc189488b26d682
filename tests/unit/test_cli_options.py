"""The CLI's declared options are usable as declared: every default passes its own type's check."""

from __future__ import annotations

from collections.abc import Iterator

import click
import pytest
from careledger.cli import main

# Click 8.3 marks "no default given" with a sentinel; older releases used None.
_NO_DEFAULT = getattr(click.core, "UNSET", None)


def _commands(group: click.Command, path: str = "careledger") -> Iterator[tuple[str, click.Command]]:
    yield path, group
    if isinstance(group, click.Group):
        for name, sub in group.commands.items():
            yield from _commands(sub, f"{path} {name}")


def test_every_option_default_is_accepted_by_its_type() -> None:
    checked = 0
    for path, command in _commands(main):
        for param in command.params:
            ctx = click.Context(command)
            default = param.get_default(ctx)
            is_flag = isinstance(param, click.Option) and param.is_flag
            if default is None or default is _NO_DEFAULT or param.multiple or is_flag:
                continue
            try:
                param.type.convert(default, param, ctx)
            except click.BadParameter as exc:
                pytest.fail(f"`{path}` option {param.name}: its default is refused: {exc.message}")
            checked += 1
    assert checked > 0


def test_record_open_defaults_to_the_treatment_purpose() -> None:
    open_command = main.commands["record"].commands["open"]  # type: ignore[attr-defined]
    purpose = next(p for p in open_command.params if p.name == "purpose")
    assert purpose.type.convert(purpose.default, purpose, click.Context(open_command)) == "treatment"
