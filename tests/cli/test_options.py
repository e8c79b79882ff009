"""Options mean the same everywhere: ``-a`` is ``--account`` in every command that has one,
found by walking the real command tree; ``contact-sync --version`` prints the version."""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

import click
import typer
from typer.testing import CliRunner

from cli.main import app

runner = CliRunner()


def _commands(command: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    found = [(path, command)]
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        found += _commands(sub, (*path, name))
    return found


def test_dash_a_is_account_in_every_command_and_every_account_option_has_it() -> None:
    wrong = []
    for path, command in _commands(typer.main.get_command(app)):
        for param in command.params:
            if not isinstance(param, click.Option):
                continue
            names = set(param.opts) | set(param.secondary_opts)
            if ("-a" in names) != ("--account" in names):
                wrong.append(f"contact-sync {' '.join(path)}: {'/'.join(sorted(names))}")
    assert wrong == []


def test_version_prints_the_installed_version_and_exits_0() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.output == f"contact-sync {version('contact-sync')}\n"
