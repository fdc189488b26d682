"""The CLI's declared options are usable as declared: every default passes its own type's check."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from careledger.cli import main
from careledger.cli._audit import _exported_tx_ids
from click.testing import CliRunner

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


@pytest.mark.parametrize(
    ("args", "content", "says"),
    [
        (["record", "create", "--patient", "p", "--category", "laboratory", "--file"], "{oops", "is not JSON"),
        (["record", "create", "--patient", "p", "--category", "laboratory", "--file"], "[1, 2]", "no JSON object"),
        (["model", "register", "--card"], "", "is not JSON"),
        (["audit", "check"], "{", "is not JSON"),
    ],
)
def test_a_bad_json_file_is_a_usage_error_before_connecting(
    tmp_path: Path, args: list[str], content: str, says: str
) -> None:
    profile = tmp_path / "profile.json"
    profile.write_text("{}")  # never read: the command must stop at its arguments
    document = tmp_path / "input.json"
    document.write_text(content)
    result = CliRunner().invoke(main, ["--profile", str(profile), "--user", "u", *args, str(document)])
    assert result.exit_code == 2, result.output
    assert says in result.output
    assert "input.json" in result.output


def test_the_audit_check_export_must_be_a_trail(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="damaged"):
        _exported_tx_ids({"resourceType": "Bundle", "entry": [{"resource": {}}]})
    with pytest.raises(ValueError, match="audit log --json"):
        _exported_tx_ids("not a trail")
    assert _exported_tx_ids([{"tx_id": "ab"}]) == ["ab"]
