"""The batch record as its writers leave it: started by ``start_batch.lua``, counted and
planned by the planner's writes, a chunk counted by ``chunk_done.lua``, ended by
``complete_batch.lua`` -- read back through the one reader."""

from __future__ import annotations

import redis

from shared import constants as keys
from shared.state import batch_record as record
from shared.state.batch_record import BatchStatus
from shared.state.chunk_record import chunk_key
from workers.push import lifecycle
from workers.push.lifecycle import chunk_done


def _running_batch(r: redis.Redis) -> None:
    r.zadd(keys.pending("acme"), {"C-1": 1.0, "C-2": 2.0})
    assert lifecycle.start_batch(r, "acme", "b1", now=100.0) == 2


def test_a_started_batch_reads_as_running_and_not_planned(r: redis.Redis) -> None:
    _running_batch(r)
    batch = record.read_batch(r, "acme", "b1")
    assert batch is not None
    assert (batch.status, batch.planned) == (BatchStatus.RUNNING, False)
    assert record.is_running(r, "acme", "b1")
    assert (batch.size, batch.started_at, batch.chunks_total) == (2, 100.0, 0)
    assert record.batch_status(r, "acme", "b1") == BatchStatus.RUNNING
    assert record.read_batch(r, "acme", "b-unknown") is None
    assert not record.is_running(r, "acme", "b-unknown")


def test_the_planners_writes_show_as_progress(r: redis.Redis) -> None:
    _running_batch(r)
    pipe = r.pipeline(transaction=True)
    record.add_counts(pipe, "acme", "b1", {"invalid_email": 1, "held_back": 0})
    record.mark_planned(pipe, "acme", "b1", chunks=2, initial=True, streamed=False)
    pipe.execute()
    batch = record.read_batch(r, "acme", "b1")
    assert batch is not None and batch.planned and batch.initial and not batch.streamed
    assert batch.progress() == {"chunks_total": 2, "chunks_done": 0, "invalid_email": 1}


def test_progress_never_shows_a_field_the_record_does_not_declare(r: redis.Redis) -> None:
    _running_batch(r)
    r.hset(keys.batch("acme", "b1"), mapping={
        "chunks_total": 1, "email_changes": '[{"new_email": "ann@example.com"}]'})
    batch = record.read_batch(r, "acme", "b1")
    assert batch is not None
    assert "ann@example.com" not in repr(batch.progress()) + repr(batch.summary())


def test_the_last_chunk_done_completes_the_batch_with_every_report_count(
        r: redis.Redis) -> None:
    _running_batch(r)
    with r.pipeline(transaction=True) as pipe:
        record.add_counts(pipe, "acme", "b1", {"invalid_email": 1})
        record.mark_planned(pipe, "acme", "b1", chunks=1, initial=False, streamed=False)
        pipe.execute()
    r.hset(chunk_key("acme", "b1", 0), "status", "committed")
    chunk_done(r, "acme", "b1", "c00000", {"created": 1})
    chunk_done(r, "acme", "b1", "c00000", {"created": 1})  # a redelivery counts nothing
    batch = record.read_batch(r, "acme", "b1")
    assert batch is not None and batch.status == BatchStatus.COMPLETED
    assert batch.report is not None
    assert batch.report["created"] == 1 and batch.report["invalid_email"] == 1
    assert set(batch.report) == set(record.REPORT_COUNTS)
    assert lifecycle.batch_info(r, "acme", "b1")["report"] == batch.report
