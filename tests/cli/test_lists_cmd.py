"""``contact-sync lists`` and ``lists discover`` on a real Redis and the sandbox."""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis
from typer.testing import CliRunner

from cli.main import app
from shared import constants as keys
from tests.workers.push_harness import prepare_env
from tests.workers.reverse.reverse_harness import ReverseAccount

runner = CliRunner()
T0 = 1_800_000_000.0


@pytest.fixture
def acct(monkeypatch: Any, r: redis.Redis, redis_url: str, sandbox: Any) -> ReverseAccount:
    prepare_env(monkeypatch, redis_url, sandbox.url)
    return ReverseAccount(r, sandbox)


def test_lists_discover_finds_the_accounts_lists_on_demand(acct: ReverseAccount) -> None:
    for n in range(12):
        acct.create_list(f"List {n:02d}")

    first = runner.invoke(app, ["lists", "discover", "--account", acct.name])
    again = runner.invoke(app, ["lists", "discover", "--account", acct.name])

    assert first.exit_code == 0, first.output
    assert f"Discovered 12 list(s) of '{acct.name}': 12 new, 0 gone." in first.output
    assert "0 new, 0 gone" in again.output


def test_lists_shows_found_at_last_pull_members_pulled_and_next_pull(
        acct: ReverseAccount) -> None:
    news = acct.create_list("Newsletter")
    acct.sign_up(news, acct.people(3))
    acct.discover(now=T0)
    acct.pull(started=T0 + 60)
    acct.r.hset(keys.pull_state(acct.name), "pull_ended_at", repr(T0 + 90))

    table = runner.invoke(app, ["lists", "--account", acct.name], env={"COLUMNS": "200"})
    as_json = runner.invoke(app, ["lists", "--account", acct.name, "--json"])

    assert table.exit_code == 0, table.output
    assert "Newsletter" in table.output and "2027-01-15" in table.output
    [row] = json.loads(as_json.output)
    assert row == {"account": acct.name, "list_id": news, "name": "Newsletter",
                   "found_at": T0, "gone_at": None, "last_pull_at": T0 + 60,
                   "members_pulled": 3, "next_pull_at": T0 + 90 + 900}


def test_lists_of_an_unknown_account_says_so(acct: ReverseAccount) -> None:
    result = runner.invoke(app, ["lists", "--account", "nobody"])

    assert result.exit_code == 1
    assert "unknown account 'nobody'" in result.output


def test_lists_before_any_discovery_says_when_it_will_run(acct: ReverseAccount) -> None:
    result = runner.invoke(app, ["lists", "--account", acct.name])

    assert result.exit_code == 0
    assert "No lists known yet" in result.output and "lists discover" in result.output
