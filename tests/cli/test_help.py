"""Every command and sub-command of ``contact-sync`` answers ``--help`` (docs/ARCHITECTURE.md §1),
found by walking the real command tree, so a command added later is covered too."""

from __future__ import annotations

import itertools
import re
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


HEAVY = ("klaviyo_api", "openapi_client", "workers.actors", "workers.broker", "sentry_sdk",
         "uvicorn", "fastapi")
"""What ``contact-sync --help`` must not load: the commands that use them import them."""


def test_help_loads_neither_the_klaviyo_sdk_nor_the_actors_nor_the_web_stack() -> None:
    import subprocess
    import sys

    probe = ("import sys; from typer.main import get_command; import cli.main; "
             "get_command(cli.main.app); print('\\n'.join(sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=120, check=True)
    loaded = [name for name in done.stdout.split() if name.startswith(HEAVY)]
    assert not loaded, loaded


@pytest.mark.parametrize("path", [p for p in COMMANDS if len(p) <= 1],
                         ids=lambda p: " ".join(p) or "contact-sync")
def test_help_wraps_command_descriptions_only_where_the_terminal_ends(
        path: tuple[str, ...]) -> None:
    result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "80"}, terminal_width=80)
    lines = result.output.splitlines()
    if "╭─ Commands" not in result.output:
        return
    top = next(i for i, line in enumerate(lines) if line.startswith("╭─ Commands"))
    panel = []
    for line in lines[top + 1:]:
        if line.startswith("╰"):
            break
        panel.append(line)
    # the description column starts where the first command's description does
    first = re.match(r"│ \S+ +", panel[0])
    assert first, panel[0]
    start = first.end()
    width = len(panel[0].rstrip()) - 2
    broken = []
    for row, following in itertools.pairwise(panel):
        if following[1:start].strip():
            continue  # the next row is another command
        text = following[start:].rstrip(" │")
        if text.strip() and len(row[:width].rstrip()) + 1 + len(text.split()[0]) < width:
            broken.append(f"{row.strip()} / {text.strip()}")
    assert not broken, broken


def test_architecture_lists_exactly_the_commands_contact_sync_has() -> None:
    from cli.procfile import PROJECT_ROOT

    text = (PROJECT_ROOT / "docs" / "ARCHITECTURE.md").read_text()
    listed = re.search(r"\*\*Commands\.\*\* `contact-sync ([^`]+)`", text)
    assert listed, "ARCHITECTURE §1 lists no commands"
    documented = {name.strip() for name in listed.group(1).split("|")}
    assert documented == {path[0] for path in COMMANDS if len(path) == 1}


def test_accounts_add_without_a_key_nor_a_terminal_says_what_to_give() -> None:
    import subprocess
    import sys
    from pathlib import Path

    command = str(Path(sys.executable).with_name("contact-sync"))
    done = subprocess.run([command, "accounts", "add", "delta"], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1
    assert done.stderr.strip() == ("Error: no Klaviyo key given and no terminal to ask for "
                                   "it: give --klaviyo-key KEY (or pipe the key in)")
    shown = runner.invoke(app, ["accounts", "add", "--help"], env={"COLUMNS": "200"}).output
    line = next(row for row in shown.splitlines() if "--klaviyo-key" in row)
    assert "required" not in line.lower() and "*" not in line
    assert "asked for" in shown
