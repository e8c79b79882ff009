"""``contact-sync status``: per account pending, running and last batch, next due; queue
depths, dead letters, recent 429s -- from real state written by the real modules."""

from __future__ import annotations

import json
import time

import pytest
from typer.testing import CliRunner

from cli.main import app
from shared import constants as keys
from shared.klaviyo.rate_limiter import RateLimiter
from shared.state.heartbeats import Heart
from shared.state.rejections import record_rejection
from shared.telemetry.metrics import record_klaviyo_call
from tests.workers.dramatiq_harness import (
    dead_lettered,
)
from workers import batch_lifecycle as lifecycle
from workers.collector import Collector
from workers.status_report import build_status

runner = CliRunner()


def _state(r, redis_url) -> str:
    """acme: a completed batch then one running with progress; globex: 1 pending; one dead
    letter; a 429 now and an old one; bulk_import of one Klaviyo account blocked."""
    now = time.time()
    r.sadd(keys.ACCOUNTS_SET, "acme", "globex")
    r.zadd(keys.pending("acme"), {"C-1": 1, "C-2": 2})
    lifecycle.start_batch(r, "acme", "b-1", now - 100)
    lifecycle.complete_batch(r, "acme", "b-1", {"created": 2, "excluded": 0}, now - 90,
                             interval=900)
    r.zadd(keys.pending("acme"), {"C-3": 3})
    r.hset(keys.state("acme"), "force", "1")
    lifecycle.start_batch(r, "acme", "b-2", now - 10)
    r.hset(keys.batch("acme", "b-2"), mapping={
        "chunks_total": 2, "chunks_done": 1, "planned": "1",
        "email_changes": '[{"contact_id": "C-3", "new_email": "ann@example.com"}]'})
    r.zadd(keys.pending("globex"), {"G-1": 5})
    record_rejection(r, "acme", "C-9", code="invalid", title="t", detail="d", batch_id="b-1")
    record_klaviyo_call(r, "bulk_import", 429, at=now - 5)
    record_klaviyo_call(r, "bulk_import", 429, at=now - 7200)
    RateLimiter(r).block("pk-acct-1", "bulk_import", 30)
    actor = dead_lettered(redis_url, ("acme", "b-0"))
    actor.send("globex", "b-9")
    r.xadd(keys.EVENTS_STREAM, {"event": "{not json", "origin": "webhook"})
    Collector(r, "c-status", block_ms=0).run_once()  # dead-letters the unreadable entry
    return actor.queue_name


def test_status_json_reports_accounts_batches_queues_and_throttling(r, redis_url):
    queue = _state(r, redis_url)
    result = runner.invoke(app, ["status", "--json"], env={"REDIS_URL": redis_url})
    assert result.exit_code == 0, result.output
    status = json.loads(result.output)
    acme, default, globex = status["accounts"]
    assert (acme["account"], default["account"], globex["account"]) == (
        "acme", "default", "globex")
    assert acme["pending"] == 0 and acme["rejected"] == 1
    assert acme["running"]["batch_id"] == "b-2" and acme["running"]["size"] == 1
    assert acme["running"]["progress"] == {"chunks_total": 2, "chunks_done": 1}
    assert "ann@example.com" not in result.output
    assert acme["last_batch"]["batch_id"] == "b-1"
    assert acme["last_batch"]["report"] == {"created": 2, "excluded": 0}
    assert acme["due"] == "after the running batch"
    assert globex["pending"] == 1 and globex["running"] is None
    assert globex["due"].startswith("never: ")  # events but no configuration
    assert default["due"] == "when a contact changes"
    assert {"queue": queue, "messages": 1, "delayed": 0, "dead": 1} in status["queues"]
    assert status["dead_letters"] == 1
    assert status["dead_events"] == 1
    assert status["throttled"]["count"] == 1
    assert status["throttled"]["by_operation"] == {"bulk_import": 1}
    [blocked] = status["throttled"]["blocked"]
    assert blocked["klaviyo_account"] == "pk-acct-1" and blocked["operation"] == "bulk_import"
    assert 0 < blocked["seconds_left"] <= 30
    assert status["scheduler_alive"] is False


def test_status_prints_one_line_per_account_within_120_columns(r, redis_url):
    _state(r, redis_url)
    result = runner.invoke(app, ["status"], env={"REDIS_URL": redis_url, "COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    text = result.output
    assert max(len(line) for line in text.splitlines()) <= 120
    [acme] = [line for line in text.splitlines() if "acme" in line]
    assert "running b-2 (1, 1/2 chunks)" in acme and "after this batch" in acme
    assert next(line for line in text.splitlines() if "globex" in line).count("NOT SYNCABLE")
    assert "Dead letters: 1 (inspect: contact-sync dlq list" in text
    assert "scheduler: NOT RUNNING" in text
    assert "Unreadable events: 1" in text
    assert "Klaviyo 429s in the last 60 min: 1" in text
    assert "blocked now: pk-acct-1/bulk_import" in text


def test_status_of_one_account_shows_its_batches_in_full(r, redis_url):
    _state(r, redis_url)
    result = runner.invoke(app, ["status", "acme"], env={"REDIS_URL": redis_url,
                                                         "COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "b-2 size=1" in result.output and "chunks_done=1" in result.output
    assert "b-1 completed (2) created=2, excluded=0" in result.output
    as_json = runner.invoke(app, ["status", "globex", "--json"], env={"REDIS_URL": redis_url})
    item = json.loads(as_json.output)
    assert item["pending"] == 1
    assert "no configuration" in item["unsyncable"]
    assert item["due"].startswith("never: ")
    unknown = runner.invoke(app, ["status", "nope"], env={"REDIS_URL": redis_url})
    assert unknown.exit_code == 1 and "Unknown account 'nope'" in unknown.output


def test_status_shows_which_processes_beat_recently(r, redis_url):
    Heart(r, "collector").beat()
    Heart(r, "scheduler").beat(time.time() - 60)  # gone quiet a minute ago
    result = runner.invoke(app, ["status"], env={"REDIS_URL": redis_url, "COLUMNS": "200"})
    line = next(x for x in result.output.splitlines() if x.startswith("Processes"))
    assert "web: NOT RUNNING" in line and "collector: 1" in line
    assert "scheduler: NOT RUNNING" in line and "worker: NOT RUNNING" in line
    assert json.loads(runner.invoke(app, ["status", "--json"], env={
        "REDIS_URL": redis_url}).output)["processes"]["collector"] == 1


def test_a_failed_batch_says_its_contacts_wait_and_how_to_replay_dead_letters(r, redis_url):
    r.zadd(keys.pending("default"), {"C-1": 1})
    lifecycle.start_batch(r, "default", "b-1", time.time() - 5)
    lifecycle.fail_batch(r, "default", "b-1", "upsert_chunk failed for good", time.time(),
                         interval=900)
    result = runner.invoke(app, ["status", "default"], env={"REDIS_URL": redis_url,
                                                            "COLUMNS": "200"})
    assert "b-1 failed: upsert_chunk failed for good" in result.output
    assert "wait for the next batch" in result.output
    assert "contact-sync dlq replay" in result.output
    table = runner.invoke(app, ["status"], env={"REDIS_URL": redis_url, "COLUMNS": "200"})
    assert "failed b-1" in table.output
    assert "Dramatiq queues: empty" in table.output


def test_next_due_time_is_shown_once_the_interval_runs(r):
    now = time.time()
    r.zadd(keys.pending("default"), {"C-1": 1})
    lifecycle.start_batch(r, "default", "b-1", now - 20)
    lifecycle.complete_batch(r, "default", "b-1", {}, now - 10, interval=900)
    r.zadd(keys.pending("default"), {"C-2": 2})
    [default] = build_status(r, now)["accounts"]
    assert default["due"] == "at next_due"
    assert default["next_due"] == pytest.approx(now - 10 + 900)


def _scans(r) -> int:
    stats = r.info("commandstats")
    return sum(int(stats.get(name, {}).get("calls", 0))
               for name in ("cmdstat_scan", "cmdstat_keys"))


def test_status_and_metrics_never_scan_the_keyspace(r, redis_url):
    from prometheus_client import CollectorRegistry

    from shared.telemetry.exposition import render_metrics

    _state(r, redis_url)
    before = _scans(r)
    report = build_status(r)
    assert report["throttled"]["blocked"][0]["operation"] == "bulk_import"
    assert report["dead_letters"] == 1
    body, _ = render_metrics(CollectorRegistry(), lambda: r)
    assert b"contact_sync_dead_letters" in body
    assert _scans(r) == before, "status or /metrics scanned the keyspace"


def test_status_json_never_prints_the_planned_email_changes_of_the_last_batch(r, redis_url):
    _state(r, redis_url)
    lifecycle.complete_batch(r, "acme", "b-2", {"created": 0, "updated": 1}, time.time(),
                             interval=900)
    result = runner.invoke(app, ["status", "--json"], env={"REDIS_URL": redis_url})
    assert result.exit_code == 0, result.output
    acme = json.loads(result.output)["accounts"][0]
    assert acme["last_batch"]["batch_id"] == "b-2"
    assert acme["last_batch"]["report"] == {"created": 0, "updated": 1}
    assert "ann@example.com" not in result.output
    assert "email_changes" not in result.output


def test_status_at_80_columns_keeps_every_column_and_the_account_view_every_count(
        r, redis_url):
    now = time.time()
    r.zadd(keys.pending("default"), {"C-1": 1})
    lifecycle.start_batch(r, "default", "20261122T100000-3f9c2a1b", now - 20)
    lifecycle.complete_batch(r, "default", "20261122T100000-3f9c2a1b",
                             {"created": 1, "conflicts": 2, "phone_shared": 3}, now - 10,
                             interval=900)
    r.zadd(keys.pending("default"), {"C-2": 2, "C-3": 3})
    env = {"REDIS_URL": redis_url, "COLUMNS": "80"}
    table = runner.invoke(app, ["status"], env=env, terminal_width=80)
    assert table.exit_code == 0, table.output
    assert max(len(line) for line in table.output.splitlines()) <= 80, table.output
    header = next(line for line in table.output.splitlines() if "account" in line
                  and "Klaviyo" in line)
    for column in ("account", "Klaviyo", "pending", "batch", "next batch", "rejected"):
        assert column in header, header
    row = next(line for line in table.output.splitlines() if line.strip().startswith("default"))
    assert " 2 " in row  # the pending count, whole
    one = runner.invoke(app, ["status", "default"], env=env, terminal_width=80)
    text = " ".join(one.output.replace("│", " ").split())
    assert "conflicts=2" in text and "phone_shared=3" in text, one.output
    assert max(len(line) for line in one.output.splitlines()) <= 80, one.output


def test_next_batch_after_a_change_says_it_waits_for_the_interval(r, redis_url):
    now = time.time()
    r.zadd(keys.pending("default"), {"C-1": 1})
    lifecycle.start_batch(r, "default", "b-1", now - 20)
    lifecycle.complete_batch(r, "default", "b-1", {}, now - 10, interval=900)
    one = runner.invoke(app, ["status", "default"], env={"REDIS_URL": redis_url,
                                                         "COLUMNS": "120"})
    line = next(x for x in one.output.splitlines() if "next batch" in x)
    assert "on a change, from " in line and "(in 8" in line, line
