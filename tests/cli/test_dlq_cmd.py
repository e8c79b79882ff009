"""``contact-sync dlq list|show|replay|purge`` on dead letters of a real Dramatiq worker."""

from __future__ import annotations

import json
from typing import Any

import dramatiq
import pytest
import redis
from typer.testing import CliRunner, Result

from cli.main import app
from shared.state.dead_letters import DeadLetters
from tests.workers.dramatiq_harness import (
    DONE,
    FAIL_FLAG,
    dead_lettered,
    running_worker,
    wait_for,
)

Dead = tuple[dramatiq.Broker, dramatiq.Actor[Any, Any]]
"""The broker and the flaky actor whose two messages are dead letters."""
runner = CliRunner()


@pytest.fixture
def dead(r: redis.Redis, redis_url: str) -> Dead:
    """Two dead letters of one flaky actor, and its broker (worker stopped)."""
    actor = dead_lettered(redis_url, ("acme", "b-1"), ("globex", "b-2"))
    r.delete(FAIL_FLAG)
    return actor.broker, actor


def invoke(redis_url: str, *args: str, input: str | None = None) -> Result:
    return runner.invoke(app, ["dlq", *args], env={"REDIS_URL": redis_url}, input=input)


def test_dlq_list_shows_queue_actor_error_and_retries_without_personal_data(
        dead: Dead, redis_url: str) -> None:
    _, actor = dead
    result = invoke(redis_url, "list")
    assert result.exit_code == 0, result.output
    assert "2 dead letter(s)" in result.output
    assert actor.queue_name in result.output
    assert "RuntimeError: Klaviyo refused the chunk of a***@example.com" in result.output
    assert "ann@example.com" not in result.output
    rows = json.loads(invoke(redis_url, "list", "--json").output)
    assert sorted(row["args"] for row in rows) == [["acme", "b-1"], ["globex", "b-2"]]
    assert {row["actor"] for row in rows} == {actor.actor_name}
    assert all(row["retries"] == 1 for row in rows)


def test_dlq_show_prints_the_masked_traceback(dead: Dead, r: redis.Redis, redis_url: str) -> None:
    letter = DeadLetters(r).list()[0]
    result = invoke(redis_url, "show", letter.id)
    assert result.exit_code == 0, result.output
    assert "Traceback" in result.output and "a***@example.com" in result.output
    assert "ann@example.com" not in result.output
    missing = invoke(redis_url, "show", "nope")
    assert missing.exit_code == 1 and "no dead letter with id 'nope'" in missing.output


def test_dlq_replay_by_id_and_all_runs_the_messages(
        dead: Dead, r: redis.Redis, redis_url: str) -> None:
    broker, actor = dead
    first = DeadLetters(r).list()[0]
    assert "Replayed" in invoke(redis_url, "replay", first.id).output
    assert invoke(redis_url, "replay", "--all", "--actor", "other").output.startswith(
        "Replayed 0")
    assert "Replayed 1 dead letter(s)." in invoke(
        redis_url, "replay", "--all", "--queue", actor.queue_name).output
    with running_worker(broker):
        wait_for(lambda: r.llen(DONE) == 2)
    assert sorted(r.lrange(DONE, 0, -1)) == ["acme/b-1", "globex/b-2"]
    assert invoke(redis_url, "list").output.strip() == "No dead letters."


def test_dlq_replay_needs_ids_or_all(dead: Dead, redis_url: str) -> None:
    result = invoke(redis_url, "replay")
    assert result.exit_code == 2 and "--all" in result.output


def test_dlq_purge_asks_first_and_deletes_only_when_confirmed(
        dead: Dead, r: redis.Redis, redis_url: str) -> None:
    declined = invoke(redis_url, "purge", input="n\n")
    assert declined.exit_code == 1 and "Nothing deleted." in declined.output
    assert len(DeadLetters(r).list()) == 2
    confirmed = invoke(redis_url, "purge", input="y\n")
    assert "Purged 2 dead letter(s)." in confirmed.output
    assert invoke(redis_url, "purge", "--yes").output.strip() == "No dead letters."
