"""``contact-sync import FILE --account A``: the summary, the refused lines, the exit code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis
from typer.testing import CliRunner

from cli.main import app
from shared import constants as keys

runner = CliRunner()


@pytest.fixture
def env(redis_url: str, test_account: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The test Redis, with the account the imports are for (``acme``) created."""
    monkeypatch.setenv("REDIS_URL", redis_url)


MIXED = ("id,email,marketing\nC-1,a@example.com,subscribed\n,b@example.com,\n"
         "C-3,c@example.com,never\n")


def test_import_prints_the_summary_and_refused_lines_and_exits_1(env: None, tmp_path: Path,
                                                                r: redis.Redis) -> None:
    path = tmp_path / "export.csv"
    path.write_text(MIXED)
    result = runner.invoke(app, ["import", str(path), "--account", "acme"])
    assert result.exit_code == 1, result.output
    assert "2 rows refused (the 1 others are imported)" in result.output
    assert "refused line 3: id: Field required" in result.output
    assert "refused line 4: marketing:" in result.output
    assert "rows read: 3, imported: 1, refused: 2" in result.output
    assert r.xlen(keys.EVENTS_STREAM) == 1


def test_import_of_only_bad_rows_exits_1(env: None, tmp_path: Path, r: redis.Redis) -> None:
    path = tmp_path / "export.jsonl"
    path.write_text('{"email": "x@example.com"}\n')
    result = runner.invoke(app, ["import", str(path), "--account", "acme"])
    assert result.exit_code == 1
    assert "imported: 0, refused: 1" in result.output
    assert r.xlen(keys.EVENTS_STREAM) == 0


def test_import_of_an_unreadable_file_exits_1_with_the_reason(env: None, tmp_path: Path) -> None:
    result = runner.invoke(app, ["import", str(tmp_path / "nope.csv"), "--account", "acme"])
    assert result.exit_code == 1
    assert "cannot read" in result.output


def test_import_refuses_an_invalid_account_name(env: None, tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text("id\nC-1\n")
    result = runner.invoke(app, ["import", str(path), "--account", "no spaces"])
    assert result.exit_code == 2
    assert "invalid account name" in result.output


def test_import_of_only_good_rows_exits_0(env: None, tmp_path: Path, r: redis.Redis) -> None:
    path = tmp_path / "export.csv"
    path.write_text("id,email\nC-1,a@example.com\nC-2,b@example.com\n")
    result = runner.invoke(app, ["import", str(path), "--account", "acme"])
    assert result.exit_code == 0, result.output
    assert "rows read: 2, imported: 2, refused: 0" in result.output


def test_import_json_gives_the_counts_and_each_refused_row_with_line_and_field(
        env: None, tmp_path: Path, r: redis.Redis) -> None:
    path = tmp_path / "export.csv"
    path.write_text(MIXED)
    result = runner.invoke(app, ["import", str(path), "--account", "acme", "--json"])
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert {k: document[k] for k in ("ok", "rows_read", "imported", "refused_count", "error")
            } == {"ok": False, "rows_read": 3, "imported": 1, "refused_count": 2, "error": None}
    assert [(row["line"], row["field"]) for row in document["refused"]] == [
        (3, "id"), (4, "marketing")]
    assert "importing" not in result.stdout  # no progress bar in the JSON


def test_import_json_of_a_file_refused_whole_carries_the_error(
        env: None, tmp_path: Path, r: redis.Redis) -> None:
    path = tmp_path / "export.csv"
    path.write_text('id,email,first_name\nC-1,a@example.com,"Ann\nC-2,b@example.com,Bob\n')
    result = runner.invoke(app, ["import", str(path), "--account", "acme", "--json"])
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document["imported"] == 0 and document["ok"] is False
    assert document["error"].startswith("line 2: a quoted value")
    assert r.xlen(keys.EVENTS_STREAM) == 0


def test_a_csv_with_an_unclosed_quote_is_refused_naming_the_line_and_imports_nothing(
        env: None, tmp_path: Path, r: redis.Redis) -> None:
    path = tmp_path / "export.csv"
    path.write_text('id,email,first_name\nC-1,a@example.com,Ann\nC-2,b@example.com,"Bob\n'
                    + "".join(f"C-{n},{n}@example.com,Name{n}\n" for n in range(3, 50)))
    result = runner.invoke(app, ["import", str(path), "--account", "acme"])
    assert result.exit_code == 1
    assert "Error: line 3: a quoted value that starts in this row is not closed" in result.output
    assert "nothing imported" in result.output
    assert r.xlen(keys.EVENTS_STREAM) == 0
