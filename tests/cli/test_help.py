"""Every command and sub-command of ``contact-sync`` answers ``--help`` (docs/ARCHITECTURE.md §1),
found by walking the real command tree, so a command added later is covered too."""

from __future__ import annotations

from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from cli.main import app

runner = CliRunner()


def _paths(command: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        found += _paths(sub, (*prefix, name))
    return found


COMMANDS = _paths(typer.main.get_command(app))


def test_the_command_tree_has_every_command_of_the_contract() -> None:
    top = {path[0] for path in COMMANDS if len(path) == 1}
    contract = {"demo", "run", "sandbox", "import", "preview", "status", "sync-now",
                "accounts", "dlq", "rejected"}
    assert contract <= top, f"missing: {sorted(contract - top)}"
    for group, subs in {"accounts": {"list", "show", "add", "set", "remove"},
                        "dlq": {"list", "show", "replay", "purge"},
                        "rejected": {"list", "replay"}}.items():
        assert {(group, sub) for sub in subs} <= set(COMMANDS), group


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "contact-sync")
def test_every_command_answers_help(path: tuple[str, ...]) -> None:
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    assert "--help" in result.output
