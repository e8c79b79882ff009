"""``contact-sync import FILE --account A``: the summary, the refused lines, the exit code."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from typer.testing import CliRunner

from cli.main import app
from shared import constants as keys

runner = CliRunner()


@pytest.fixture
def env(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)


def test_import_prints_the_summary_and_refused_lines_and_exits_0(env: None, tmp_path: Path,
                                                                r: redis.Redis):
    path = tmp_path / "export.csv"
    path.write_text("id,email,marketing\nC-1,a@example.com,subscribed\n,b@example.com,\n"
                    "C-3,c@example.com,never\n")
    result = runner.invoke(app, ["import", str(path), "--account", "acme"])
    assert result.exit_code == 0, result.output
    assert "refused line 3: id: Field required" in result.output
    assert "refused line 4: marketing:" in result.output
    assert "rows read: 3, imported: 1, refused: 2" in result.output
    assert r.xlen(keys.EVENTS_STREAM) == 1


def test_import_of_only_bad_rows_exits_1(env: None, tmp_path: Path, r: redis.Redis):
    path = tmp_path / "export.jsonl"
    path.write_text('{"email": "x@example.com"}\n')
    result = runner.invoke(app, ["import", str(path), "--account", "acme"])
    assert result.exit_code == 1
    assert "imported: 0, refused: 1" in result.output
    assert r.xlen(keys.EVENTS_STREAM) == 0


def test_import_of_an_unreadable_file_exits_1_with_the_reason(env: None, tmp_path: Path):
    result = runner.invoke(app, ["import", str(tmp_path / "nope.csv"), "--account", "acme"])
    assert result.exit_code == 1
    assert "cannot read" in result.output


def test_import_refuses_an_invalid_account_name(env: None, tmp_path: Path):
    path = tmp_path / "export.csv"
    path.write_text("id\nC-1\n")
    result = runner.invoke(app, ["import", str(path), "--account", "no spaces"])
    assert result.exit_code == 2
    assert "invalid account name" in result.output
