"""Chunks and jobs: several jobs per batch, Klaviyo's refusals, 429 storms."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest
import redis

from shared import constants as keys
from tests.workers.dramatiq_harness import wait_for
from tests.workers.push_harness import PushAccount, prepare_env, push_worker
from workers.batch_lifecycle import batch_info, start_batch


@pytest.fixture
def worker(redis_url: str, sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    prepare_env(monkeypatch, redis_url, sandbox.url)
    with push_worker(redis_url):
        yield


def test_a_batch_over_the_chunk_size_goes_in_several_jobs_and_completes_once_all_are_done(
        r: redis.Redis, sandbox: Any, worker: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNC_CHUNK_MAX_PROFILES", "40")
    acct = PushAccount(r, sandbox)
    acct.set(default_list_id=acct.create_list())
    for i in range(100):
        acct.change(f"C{i}")
    info = acct.sync()
    assert r.hget(keys.batch(acct.name, info["batch_id"]), "chunks_total") == "3"
    profiles = acct.by_email()
    assert len(profiles) == 100
    assert all(p["lists"] for p in profiles.values())
    assert info["report"]["created"] == 100


def test_klaviyo_refusing_a_contact_is_recorded_with_klaviyos_reason(
        r: redis.Redis, sandbox: Any, worker: None) -> None:
    acct = PushAccount(r, sandbox)
    too_long = "a" * 60 + "@" + "b" * 45 + ".example.com"  # valid syntax, > 100 characters
    acct.change("C1", email=too_long)
    acct.change("C2", phone="12345")  # a bad phone next to an email: Klaviyo drops the phone
    acct.change("C3", phone="+447700900123")
    info = acct.sync()
    rejected = {cid: orjson.loads(v) for cid, v in r.hgetall(keys.rejected(acct.name)).items()}
    assert list(rejected) == ["C1"]
    assert rejected["C1"]["code"] == "invalid_email"
    assert rejected["C1"]["detail"] == "Invalid email address"
    assert rejected["C1"]["batch_id"] == info["batch_id"]
    assert info["report"]["rejected"] == 1
    profiles = acct.by_email()
    assert sorted(profiles) == ["c2@example.com", "c3@example.com"]
    assert "phone_number" not in profiles["c2@example.com"] or not profiles[
        "c2@example.com"]["phone_number"]
    assert profiles["c3@example.com"]["phone_number"] == "+447700900123"


def test_a_429_storm_still_completes_the_batch_without_duplicates(
        r: redis.Redis, sandbox: Any, worker: None) -> None:
    from workers.actors.batch import sync_batch

    acct = PushAccount(r, sandbox)
    # Every import is throttled until the first 429 has surely happened, then half of all
    # calls are, at random (so the storm is never vacuous).
    sandbox.set_faults(operation="bulk_import_profiles", status_429=1.0, retry_after=1)
    for i in range(30):
        acct.change(f"C{i}", email=f"Person{i % 20}@Example.com")
    assert start_batch(r, acct.name, "b-storm", 1.0) > 0
    sync_batch.send(acct.name, "b-storm")

    def throttled() -> int:
        return sum(by_status.get("429", 0) for by_status in sandbox.calls(acct.key).values())

    wait_for(throttled)
    for operation in ("bulk_import_profiles", "*"):
        sandbox.set_faults(operation=operation, status_429=0.5, retry_after=1)
    wait_for(lambda: batch_info(r, acct.name, "b-storm").get("status") == "completed",
             timeout=120)
    assert throttled() > 0
    profiles = acct.by_email()
    assert len(profiles) == 20
    assert batch_info(r, acct.name, "b-storm")["report"]["created"] == 20


def test_a_job_klaviyo_refuses_as_a_whole_records_every_contact_with_the_reason(
        r: redis.Redis, sandbox: Any, worker: None) -> None:
    acct = PushAccount(r, sandbox, default_list_id="GONE42")  # no such list in Klaviyo
    acct.change("C1")
    acct.change("C2")
    info = acct.sync()
    rejected = {cid: orjson.loads(v) for cid, v in r.hgetall(keys.rejected(acct.name)).items()}
    assert sorted(rejected) == ["C1", "C2"]
    assert "GONE42" in rejected["C1"]["detail"]
    assert info["report"]["rejected"] == 2
    assert acct.profiles() == []


def test_an_import_job_klaviyo_never_finishes_is_submitted_again_and_the_batch_completes(
        r: redis.Redis, sandbox: Any, worker: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNC_IMPORT_JOB_STUCK_AFTER", "2")
    sandbox.set_jobs("async", 600_000)  # the first job stays queued for ten minutes
    acct = PushAccount(r, sandbox)
    for i in range(5):
        acct.change(f"S{i}")
    from tests.workers.dramatiq_harness import wait_for
    from workers.actors.batch import sync_batch
    from workers.batch_lifecycle import start_batch

    assert start_batch(r, acct.name, "b-stuck", 1.0) > 0
    sync_batch.send(acct.name, "b-stuck")
    chunk = keys.chunk(acct.name, "b-stuck", "c00000")
    first_job = wait_for(lambda: r.hget(chunk, "job_id"))
    sandbox.set_jobs("async", 0)  # Klaviyo works again for the next job
    wait_for(lambda: r.hget(keys.batch(acct.name, "b-stuck"), "status") == "completed",
             timeout=60)
    assert r.hget(chunk, "resubmitted") == first_job
    assert r.hget(chunk, "job_id") != first_job
    assert sorted(acct.by_email()) == [f"s{i}@example.com" for i in range(5)]
