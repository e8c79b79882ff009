"""``contact-sync collector`` as a real process (stops cleanly on SIGTERM/SIGINT), and
``contact-sync sync-now``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from typer.testing import CliRunner

from cli.main import app
from shared import constants as keys
from shared.accounts import AccountStore
from shared.settings import Settings
from tests.workers.collector_helpers import event, publish
from workers.push import lifecycle
from workers.scheduler import Scheduler

COMMAND = str(Path(sys.executable).with_name("contact-sync"))
runner = CliRunner()


def wait_for(condition: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_the_collector_process_applies_events_and_stops_cleanly_on_a_signal(
    r: redis.Redis, redis_url: str, stop_signal: signal.Signals,
) -> None:
    env = {**os.environ, "REDIS_URL": redis_url}
    process = subprocess.Popen([COMMAND, "collector", "--consumer", "proc-1"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        publish(r, event("C-1", 100), event("C-2", 100))
        wait_for(lambda: r.zcard(keys.pending("acme")) == 2)
        process.send_signal(stop_signal)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert "stopped" in output
    assert r.xpending(keys.EVENTS_STREAM, keys.COLLECTOR_GROUP)["pending"] == 0


def test_process_commands_without_redis_url_say_what_to_set() -> None:
    for command in ("collector", "scheduler"):
        result = runner.invoke(app, [command], env={"REDIS_URL": ""})
        assert result.exit_code == 2
        assert "REDIS_URL is not set" in result.output


def sync_now(redis_url: str, account: str) -> str:
    result = runner.invoke(app, ["sync-now", "--account", account],
                           env={"REDIS_URL": redis_url, "KLAVIYO_API_KEY": ""})
    return f"{result.exit_code}: {result.output}"


def test_sync_now_marks_an_account_with_pending_changes_due(r: redis.Redis, redis_url: str) -> None:
    r.zadd(keys.pending("default"), {"C-1": 1.0})
    answer = sync_now(redis_url, "default")
    assert answer.startswith("0: default: 1 pending contact(s)")
    assert "no scheduler has ticked lately" in answer
    assert lifecycle.account_state(r, "default")["force"] == "1"


def test_sync_now_is_started_by_the_next_tick_of_a_running_scheduler(
    r: redis.Redis, redis_url: str,
) -> None:
    settings = Settings(REDIS_URL=redis_url, SYNC_INTERVAL=900)
    sent: list[tuple[str, str]] = []
    scheduler = Scheduler(r, AccountStore(r, settings), lambda a, b: sent.append((a, b)))
    r.zadd(keys.pending("default"), {"C-1": 1.0})
    [(_, first)] = scheduler.tick()
    lifecycle.complete_batch(r, "default", first, {}, now=time.time())
    r.zadd(keys.pending("default"), {"C-2": 2.0})
    assert scheduler.tick() == []  # the interval has not passed
    answer = sync_now(redis_url, "default")
    assert "no scheduler" not in answer  # it ticked just now
    assert [a for a, _ in scheduler.tick()] == ["default"]


def test_sync_now_says_when_there_is_nothing_to_do(r: redis.Redis, redis_url: str) -> None:
    assert sync_now(redis_url, "default") == "0: default: nothing pending; no batch to start.\n"
    assert "force" not in lifecycle.account_state(r, "default")


def test_sync_now_during_a_running_batch_queues_the_next_one(
    r: redis.Redis, redis_url: str,
) -> None:
    r.zadd(keys.pending("default"), {"C-1": 1.0})
    lifecycle.start_batch(r, "default", "b1", now=1.0)
    assert "batch b1 is running" in sync_now(redis_url, "default")


def test_sync_now_refuses_unknown_and_unsyncable_accounts(r: redis.Redis, redis_url: str) -> None:
    assert sync_now(redis_url, "nobody").startswith("1: Error: unknown account 'nobody'")
    r.sadd(keys.ACCOUNTS_SET, "seen")
    assert "accounts add seen" in sync_now(redis_url, "seen")


def test_a_killed_collector_loses_nothing(r: redis.Redis, redis_url: str) -> None:
    env = {**os.environ, "REDIS_URL": redis_url}
    for start in range(0, 3000, 500):
        publish(r, *[event(f"C-{n}", 100 + n) for n in range(start, start + 500)])
    victim = subprocess.Popen([COMMAND, "collector", "--consumer", "victim", "--count", "50"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: r.exists(keys.pending("acme")))
    victim.kill()  # SIGKILL, mid-stream: some entries read and not acknowledged, maybe
    victim.wait(timeout=30)
    survivor = subprocess.Popen([COMMAND, "collector", "--consumer", "survivor",
                                 "--claim-idle", "0"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: r.zcard(keys.pending("acme")) == 3000)
        wait_for(lambda: r.xpending(keys.EVENTS_STREAM, keys.COLLECTOR_GROUP)["pending"] == 0)
        wait_for(lambda: r.xlen(keys.EVENTS_STREAM) == 0)  # all acknowledged, then trimmed
    finally:
        survivor.terminate()
        survivor.wait(timeout=30)


def test_the_scheduler_process_enqueues_sync_batch_on_the_dramatiq_broker(
    r: redis.Redis, redis_url: str,
) -> None:
    publish(r, event("C-1", 100, account="default"))
    env = {**os.environ, "REDIS_URL": redis_url, "KLAVIYO_API_KEY": ""}
    procs = [subprocess.Popen([COMMAND, name], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL) for name in ("collector", "scheduler")]
    try:
        wait_for(lambda: lifecycle.running_batch(r, "default") is not None)
        batch_id = lifecycle.running_batch(r, "default")
        wait_for(lambda: "enqueued_at" in lifecycle.account_state(r, "default"))
    finally:
        for process in procs:
            process.terminate()
        for process in procs:
            assert process.wait(timeout=30) == 0
    messages = [json.loads(body) for pattern in ("dramatiq:*.msgs",)
                for key in r.scan_iter(match=pattern) for body in r.hvals(key)]
    assert [(m["actor_name"], m["args"]) for m in messages] == [
        ("sync_batch", ["default", batch_id])
    ]
