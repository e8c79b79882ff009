"""The batch lifecycle in Redis: pending moves atomically into one running batch per
account; completing frees the account and sets the next due time."""

from __future__ import annotations

import redis

from shared import constants as keys
from shared.telemetry import metrics
from workers.push import lifecycle


def pend(r: redis.Redis, account: str, ids: dict[str, float], bulk: bool = False) -> None:
    r.zadd(keys.pending(account), ids)
    if bulk:
        r.zadd(keys.pending_bulk(account), ids)


def test_start_batch_moves_pending_into_the_batch(r: redis.Redis) -> None:
    pend(r, "acme", {"C-1": 1.0, "C-2": 2.0})
    pend(r, "acme", {"C-3": 3.0}, bulk=True)
    assert lifecycle.start_batch(r, "acme", "b1", now=100.0) == 3
    assert r.zcard(keys.pending("acme")) == 0
    assert not r.exists(keys.pending_bulk("acme"))
    assert r.zrange(keys.batch_members("acme", "b1"), 0, -1) == ["C-1", "C-2", "C-3"]
    assert r.zrange(keys.batch_members_bulk("acme", "b1"), 0, -1) == ["C-3"]
    info = lifecycle.batch_info(r, "acme", "b1")
    assert info["status"] == "running" and info["size"] == 3 and info["bulk"] == 1
    assert info["started_at"] == 100.0
    assert lifecycle.running_batch(r, "acme") == "b1"


def test_no_second_batch_starts_while_one_runs(r: redis.Redis) -> None:
    pend(r, "acme", {"C-1": 1.0})
    assert lifecycle.start_batch(r, "acme", "b1", now=100.0) == 1
    pend(r, "acme", {"C-2": 2.0})
    assert lifecycle.start_batch(r, "acme", "b2", now=101.0) == 0
    assert r.zrange(keys.pending("acme"), 0, -1) == ["C-2"]  # waits for the next batch
    assert lifecycle.batch_info(r, "acme", "b2") == {}


def test_nothing_pending_starts_nothing(r: redis.Redis) -> None:
    assert lifecycle.start_batch(r, "acme", "b1", now=100.0) == 0
    assert lifecycle.running_batch(r, "acme") is None


def test_complete_batch_stores_the_report_and_frees_the_account(r: redis.Redis) -> None:
    pend(r, "acme", {"C-1": 1.0})
    lifecycle.start_batch(r, "acme", "b1", now=100.0)
    report = {"created": 1, "updated": 0, "invalid_email": 0}
    assert lifecycle.complete_batch(r, "acme", "b1", report, now=160.0, interval=900)
    info = lifecycle.batch_info(r, "acme", "b1")
    assert info["status"] == "completed" and info["report"] == report
    assert info["completed_at"] == 160.0
    state = lifecycle.account_state(r, "acme")
    assert "running" not in state
    assert state["completed_at"] == 160.0 and state["next_due"] == 1060.0
    assert lifecycle.last_completed(r, "acme") == info
    # A repeated completion (a redelivered message) changes nothing.
    assert not lifecycle.complete_batch(r, "acme", "b1", {"created": 9}, now=999.0, interval=1)
    assert lifecycle.batch_info(r, "acme", "b1")["report"] == report


def test_complete_batch_uses_the_account_interval_by_default(r: redis.Redis) -> None:
    pend(r, "default", {"C-1": 1.0})
    lifecycle.start_batch(r, "default", "b1", now=100.0)
    lifecycle.complete_batch(r, "default", "b1", {}, now=200.0)
    assert lifecycle.account_state(r, "default")["next_due"] == 200.0 + 900


def test_a_failed_batch_puts_its_members_back_into_pending(r: redis.Redis) -> None:
    pend(r, "acme", {"C-1": 1.0, "C-2": 2.0}, bulk=True)
    lifecycle.start_batch(r, "acme", "b1", now=100.0)
    pend(r, "acme", {"C-2": 5.0})  # a newer change arrived meanwhile
    assert lifecycle.fail_batch(r, "acme", "b1", "klaviyo unreachable", now=150.0, interval=10)
    assert r.zrange(keys.pending("acme"), 0, -1, withscores=True) == [("C-1", 1.0), ("C-2", 5.0)]
    assert r.zrange(keys.pending_bulk("acme"), 0, -1) == ["C-1", "C-2"]
    assert lifecycle.batch_info(r, "acme", "b1")["status"] == "failed"
    assert lifecycle.running_batch(r, "acme") is None
    assert lifecycle.last_completed(r, "acme") is None


def test_an_account_keeps_the_newest_hundred_batches_and_nothing_older(
        r: redis.Redis) -> None:
    for n in range(lifecycle.BATCHES_KEPT + 3):
        pend(r, "acme", {f"C-{n}": float(n)})
        lifecycle.start_batch(r, "acme", f"b{n}", now=float(n))
        r.hset(keys.batch_details("acme", f"b{n}"), f"C-{n}", "{}")
        lifecycle.complete_batch(r, "acme", f"b{n}", {}, now=float(n), interval=0)
    kept = [b["batch_id"] for b in lifecycle.recent_batches(r, "acme", 1_000)]
    newest = lifecycle.BATCHES_KEPT + 2
    assert kept == [f"b{n}" for n in range(newest, 2, -1)]
    for gone in ("b0", "b1", "b2"):
        assert not r.exists(keys.batch("acme", gone), keys.batch_details("acme", gone),
                            keys.batch_members("acme", gone))
    assert r.exists(keys.batch_details("acme", "b3"))


def test_an_ended_batch_keeps_its_report_but_not_its_chunks_or_planned_changes(
        r: redis.Redis) -> None:
    pend(r, "acme", {"C-1": 1.0})
    lifecycle.start_batch(r, "acme", "b1", now=1.0)
    r.hset(keys.batch("acme", "b1"), mapping={
        "chunks_total": 2, "email_changes": '[{"new_email": "ann@example.com"}]'})
    for chunk in ("c00000", "c00001"):
        r.hset(keys.chunk("acme", "b1", chunk), mapping={"status": "done", "rows": "[]"})
    lifecycle.complete_batch(r, "acme", "b1", {"created": 1}, now=2.0, interval=0)
    assert not r.exists(keys.chunk("acme", "b1", "c00000"), keys.chunk("acme", "b1", "c00001"))
    info = lifecycle.batch_info(r, "acme", "b1")
    assert info["report"] == {"created": 1} and "email_changes" not in info


def test_mark_enqueued_only_marks_the_running_batch(r: redis.Redis) -> None:
    pend(r, "acme", {"C-1": 1.0})
    lifecycle.start_batch(r, "acme", "b1", now=100.0)
    assert not lifecycle.mark_enqueued(r, "acme", "other", now=101.0)
    assert lifecycle.mark_enqueued(r, "acme", "b1", now=101.0)
    assert lifecycle.account_state(r, "acme")["enqueued_at"] == 101.0


def test_a_bytes_client_as_dramatiqs_works_too(r: redis.Redis, redis_url: str) -> None:
    raw = redis.Redis.from_url(redis_url)  # decode_responses off
    pend(r, "acme", {"C-1": 1.0})
    assert lifecycle.start_batch(raw, "acme", "b1", now=100.0) == 1
    assert lifecycle.running_batch(raw, "acme") == "b1"
    assert lifecycle.mark_enqueued(raw, "acme", "b1", now=101.0)
    assert lifecycle.complete_batch(raw, "acme", "b1", {"created": 1}, now=160.0)
    assert lifecycle.last_completed(raw, "acme") == lifecycle.last_completed(r, "acme")
    assert lifecycle.batch_info(raw, "acme", "b1")["report"] == {"created": 1}


def test_batch_metrics_are_recorded_once_per_batch(r: redis.Redis) -> None:
    def series(metric: metrics.Metric, part: str = "", **labels: str) -> float:
        return float(r.hget(keys.METRICS, metrics.field(metric, labels, part)) or 0)

    pend(r, "acme", {"C-1": 1.0, "C-2": 2.0})
    lifecycle.start_batch(r, "acme", "b1", now=100.0)
    lifecycle.complete_batch(r, "acme", "b1", {"created": 1, "updated": 1, "invalid_email": 3},
                             now=130.0, interval=60)
    lifecycle.complete_batch(r, "acme", "b1", {"created": 1}, now=140.0, interval=60)
    assert series(metrics.BATCHES, account="acme", status="completed") == 1
    assert series(metrics.CONTACTS_SYNCED, account="acme") == 2
    assert series(metrics.BATCH_DURATION, "sum") == 30.0
