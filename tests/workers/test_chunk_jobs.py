"""Chunks and jobs: several jobs per batch, Klaviyo's refusals, 429 storms."""

from __future__ import annotations

from typing import Any

import orjson
import redis

from shared import constants as keys
from tests.conftest import Setting
from tests.workers.dramatiq_harness import wait_for
from tests.workers.push_harness import PushAccount
from workers.push.batch import sync_batch
from workers.push.lifecycle import batch_info, start_batch


def test_a_batch_over_the_chunk_size_goes_in_several_jobs_and_completes_once_all_are_done(
        r: redis.Redis, sandbox: Any, worker: None, setting: Setting) -> None:
    setting("SYNC_CHUNK_MAX_PROFILES", "40")
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


def test_an_email_klaviyo_would_refuse_is_excluded_before_sending_with_the_reason(
        r: redis.Redis, sandbox: Any, worker: None) -> None:
    acct = PushAccount(r, sandbox)
    too_long = "a" * 60 + "@" + "b" * 45 + ".example.com"  # valid syntax, > 100 characters
    acct.change("C1", email=too_long)
    acct.change("C2", email="user@domain.c")  # a one-letter top-level domain
    acct.change("C3", phone="+447911123456")
    info = acct.sync()
    details = {cid: orjson.loads(v) for cid, v in info["details"].items()}
    assert details["C1"]["outcome"] == details["C2"]["outcome"] == "invalid_email"
    assert "100 characters" in details["C1"]["reason"]
    assert "one-letter top-level domain" in details["C2"]["reason"]
    assert info["report"]["invalid_email"] == 2
    assert r.hlen(keys.rejected(acct.name)) == 0
    assert sorted(acct.by_email()) == ["c3@example.com"]


def test_a_429_storm_still_completes_the_batch_without_duplicates(
        r: redis.Redis, sandbox: Any, worker: None) -> None:
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


def test_a_default_list_gone_from_klaviyo_flags_the_account_and_its_contacts_join_the_next(
        r: redis.Redis, sandbox: Any, worker: None) -> None:
    from shared.state.account_health import missing_list, settings_changed

    acct = PushAccount(r, sandbox, default_list_id="GONE42")  # no such list in Klaviyo
    acct.change("C1")
    acct.change("C2", marketing="unsubscribed")
    info = acct.sync()
    assert info["report"]["created"] == 2, "the contacts went without the list"
    assert info["report"]["rejected"] == 0 and r.hlen(keys.rejected(acct.name)) == 0
    assert missing_list(r, acct.name) == "GONE42"
    assert r.smembers(keys.list_owed(acct.name)) == {"C1"}, "unsubscribed: never added"
    acct.change("C3")  # the next batch knows the list is missing: no refused round again
    before = len(sandbox.requests(acct.key, operation="bulk_import_profiles"))
    acct.sync()
    assert len(sandbox.requests(acct.key, operation="bulk_import_profiles")) == before + 1
    new_list = acct.create_list("Fresh")
    acct.set(default_list_id=new_list)
    settings_changed(r, acct.name, ["default_list_id"], now=1.0)
    assert missing_list(r, acct.name) is None
    acct.sync()
    members = {p["email"] for p in acct.profiles() if new_list in p["lists"]}
    assert members == {"c1@example.com", "c3@example.com"}
    assert r.scard(keys.list_owed(acct.name)) == 0


def test_an_import_job_klaviyo_keeps_queued_is_never_posted_again_until_it_is_cancelled(
        r: redis.Redis, sandbox: Any, worker: None) -> None:
    import time

    sandbox.set_jobs("async", 600_000)  # the first job stays queued for ten minutes
    acct = PushAccount(r, sandbox)
    for i in range(5):
        acct.change(f"S{i}")
    assert start_batch(r, acct.name, "b-slow", 1.0) > 0
    sync_batch.send(acct.name, "b-slow")
    chunk = keys.chunk(acct.name, "b-slow", "c00000")
    first_job = wait_for(lambda: r.hget(chunk, "job_id"))
    wait_for(lambda: int(r.hget(chunk, "polls") or 0) >= 5, timeout=30)
    time.sleep(1)
    assert len(sandbox.requests(acct.key, operation="bulk_import_profiles")) == 1
    assert r.hget(chunk, "status") == "submitted"
    sandbox.set_jobs("async", 0)  # Klaviyo works again for the next job
    sandbox.cancel_job(first_job, key=acct.key)
    wait_for(lambda: r.hget(keys.batch(acct.name, "b-slow"), "status") == "completed",
             timeout=90)
    posted = sandbox.requests(acct.key, operation="bulk_import_profiles")
    assert [req["status"] for req in posted] == [202, 202], "posted again once cancelled"
    assert not r.exists(chunk), "an ended batch keeps no chunk records"
    assert sorted(acct.by_email()) == [f"s{i}@example.com" for i in range(5)]


def test_an_import_job_klaviyo_has_forgotten_is_posted_again(
        r: redis.Redis, sandbox: Any, worker: None) -> None:
    sandbox.set_jobs("async", 600_000)
    acct = PushAccount(r, sandbox)
    acct.change("S1")
    assert start_batch(r, acct.name, "b-gone", 1.0) > 0
    sync_batch.send(acct.name, "b-gone")
    chunk = keys.chunk(acct.name, "b-gone", "c00000")
    first_job = wait_for(lambda: r.hget(chunk, "job_id"))
    sandbox.set_jobs("async", 0)
    sandbox.expire_job(first_job, key=acct.key)  # GET answers 404 from now on
    wait_for(lambda: r.hget(keys.batch(acct.name, "b-gone"), "status") == "completed",
             timeout=90)
    posted = sandbox.requests(acct.key, operation="bulk_import_profiles")
    assert [req["status"] for req in posted] == [202, 202], "posted again once forgotten"
    assert sorted(acct.by_email()) == ["s1@example.com"]
