"""Redelivered messages resume; nothing is counted twice and no profile is duplicated."""

from __future__ import annotations

import time
import uuid
from typing import Any

import dramatiq
import redis

from shared import constants as keys
from tests.conftest import Setting
from tests.workers.dramatiq_harness import wait_for
from tests.workers.push_harness import PushAccount
from workers.push.batch import sync_batch
from workers.push.deliver.chunk import poll_import_job, upsert_chunk
from workers.push.lifecycle import batch_info, chunk_done, start_batch


def test_a_chunk_marked_done_twice_is_counted_once(r: redis.Redis, sandbox: Any,
                                                   worker: None) -> None:
    acct = PushAccount(r, sandbox)
    r.hset(keys.state(acct.name), "running", "b1")
    r.hset(keys.batch(acct.name, "b1"), mapping={"status": "running", "chunks_total": 2,
                                                 "chunks_done": 0, "started_at": time.time()})
    r.hset(keys.chunk(acct.name, "b1", "c00000"), "status", "submitted")
    for _ in range(3):
        chunk_done(r, acct.name, "b1", "c00000", {"created": 5})
    fields = r.hgetall(keys.batch(acct.name, "b1"))
    assert (fields["n:created"], fields["chunks_done"], fields["status"]) == (
        "5", "1", "running")


def test_a_batch_message_delivered_twice_gives_one_profile_per_email(
        r: redis.Redis, sandbox: Any, worker: None, setting: Setting) -> None:
    setting("SYNC_CHUNK_MAX_PROFILES", "10")
    acct = PushAccount(r, sandbox)
    for i in range(35):
        acct.change(f"C{i}")
    batch_id = f"b-{uuid.uuid4().hex[:6]}"
    start_batch(r, acct.name, batch_id, time.time())
    sync_batch.send(acct.name, batch_id)
    sync_batch.send(acct.name, batch_id)
    wait_for(lambda: batch_info(r, acct.name, batch_id).get("status") == "completed", 60)
    report = batch_info(r, acct.name, batch_id)["report"]
    assert report["created"] + report["updated"] == 35
    assert len(acct.by_email()) == 35
    assert r.hget(keys.batch(acct.name, batch_id), "chunks_done") == "4"


def test_late_messages_of_a_completed_batch_change_nothing(
        r: redis.Redis, sandbox: Any, worker: dramatiq.Worker) -> None:
    acct = PushAccount(r, sandbox)
    acct.change("C1")
    info = acct.sync()
    calls_before = sandbox.calls(acct.key)
    upsert_chunk.send(acct.name, info["batch_id"], "c00000")
    poll_import_job.send(acct.name, info["batch_id"], "c00000")
    worker.broker.join(upsert_chunk.queue_name)
    worker.join()
    assert sandbox.calls(acct.key) == calls_before
    assert batch_info(r, acct.name, info["batch_id"])["report"] == info["report"]
