"""A batch is planned a slice at a time (workers/push/plan/stream.py): the rules that span the
batch hold across slices, and a plan cut short or run twice loses and repeats nothing.
Slices of two members and a commit every four make every batch here span many slices."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from shared import constants as keys
from shared.state.chunk_record import chunk_key
from shared.state.synced_contacts import SyncedRecord
from tests.workers.push_harness import PushAccount, prepare_env, push_worker
from workers.push.lifecycle import batch_info, start_batch
from workers.runtime.broker import setup_broker


@pytest.fixture
def worker(redis_url: str, sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("SYNC_PLAN_SLICE", "2")
    monkeypatch.setenv("SYNC_PLAN_COMMIT_MEMBERS", "4")
    monkeypatch.setenv("SYNC_CHUNK_MAX_PROFILES", "3")
    prepare_env(monkeypatch, redis_url, sandbox.url)
    with push_worker(redis_url):
        yield


def _details(info: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {cid: json.loads(v) for cid, v in info["details"].items()}


def test_contacts_sharing_an_email_in_different_slices_become_one_profile_with_the_newest_state(
        r: redis.Redis, sandbox: Any, worker: None) -> None:
    acct = PushAccount(r, sandbox)
    acct.change("C1", email="ann@example.com", first_name="Old Ann", marketing="subscribed")
    for i in range(6):
        acct.change(f"F{i}", first_name=f"Filler {i}")
    acct.change("C2", email="ANN@example.com", first_name="New Ann")
    info = acct.sync()
    profiles = acct.by_email()
    assert len(profiles) == 7
    assert profiles["ann@example.com"]["first_name"] == "New Ann"
    assert info["report"]["contacts"] == 8
    assert info["report"]["created"] == 7  # profiles; both contacts of Ann map to hers
    synced = r.hmget(keys.synced_contacts(acct.name), ["C1", "C2"])
    assert all(s and SyncedRecord.load(s).email == "ann@example.com" for s in synced)


def test_an_unchanged_contact_whose_new_twin_is_in_a_later_slice_is_sent_again_with_it(
        r: redis.Redis, sandbox: Any, worker: None) -> None:
    acct = PushAccount(r, sandbox)
    acct.change("OLD", email="bob@example.com", first_name="Bob")
    acct.sync()
    acct.change("NEW", email="bob@example.com", first_name="Bob")  # older than OLD's next
    for i in range(5):
        acct.change(f"F{i}")
    acct.change("OLD", email="bob@example.com", first_name="Bob")  # same data: unchanged
    info = acct.sync()
    assert sorted(acct.by_email()) == sorted(
        ["bob@example.com"] + [f"f{i}@example.com" for i in range(5)])
    report = info["report"]
    assert report["contacts"] == 7
    assert (report["created"], report["updated"]) == (5, 1)  # Bob's profile, updated
    assert report["unchanged"] == 0  # the new twin makes the pair go out together
    assert r.hexists(keys.synced_contacts(acct.name), "NEW")


def test_the_cap_across_slices_keeps_the_most_recently_changed_bulk_contacts(
        r: redis.Redis, sandbox: Any, worker: None) -> None:
    acct = PushAccount(r, sandbox, max_bulk_export=3)
    acct.change("W0")
    acct.sync()  # past the initial import, where every contact counts against the cap
    for i in range(9):
        acct.change(f"B{i}", origin="import")
    acct.change("W1")  # a one-by-one change is never capped
    info = acct.sync()
    assert sorted(acct.by_email()) == ["b6@example.com", "b7@example.com", "b8@example.com",
                                       "w0@example.com", "w1@example.com"]
    assert info["report"]["held_back"] == 6
    held = {cid for cid, d in _details(info).items() if d["outcome"] == "held_back"}
    assert held == {f"B{i}" for i in range(6)}


def test_a_phone_met_again_in_a_later_slice_is_sent_to_neither_contact(
        r: redis.Redis, sandbox: Any, worker: None) -> None:
    acct = PushAccount(r, sandbox)
    acct.change("C1", phone="+447911123450")
    for i in range(5):
        acct.change(f"F{i}")
    acct.change("C2", phone="+447911123450")
    info = acct.sync()
    profiles = acct.by_email()
    assert not profiles["c1@example.com"].get("phone_number")
    assert not profiles["c2@example.com"].get("phone_number")
    assert info["report"]["phone_shared"] == 2
    details = _details(info)
    assert details["C1"]["outcome"] == details["C2"]["outcome"] == "phone_shared"


def test_a_plan_cut_short_and_redelivered_twice_plans_each_contact_once(
        r: redis.Redis, sandbox: Any, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNC_PLAN_SLICE", "2")
    monkeypatch.setenv("SYNC_PLAN_COMMIT_MEMBERS", "4")
    monkeypatch.setenv("SYNC_CHUNK_MAX_PROFILES", "3")
    prepare_env(monkeypatch, redis_url, sandbox.url)
    setup_broker(redis_url)  # a first sync sends each chunk as it is committed
    from workers.push.plan import final as plan_final
    from workers.push.plan.stream import StreamPlanner

    acct = PushAccount(r, sandbox)
    for i in range(11):
        acct.change(f"C{i}", email="dup@example.com" if i in (0, 9) else f"c{i}@example.com")
    assert start_batch(r, acct.name, "b1", time.time()) == 11
    first = StreamPlanner(r, acct.name, "b1")
    stale = StreamPlanner(r, acct.name, "b1")  # a redelivery reading the same progress
    assert first.run(deadline=0) == "more"  # out of time after one slice: committed
    assert stale.run(deadline=0) == "lost"  # its commit would repeat the first's
    while (outcome := StreamPlanner(r, acct.name, "b1").run(deadline=0)) == "more":
        pass
    assert outcome == "done"
    assert StreamPlanner(r, acct.name, "b1").run(deadline=time.monotonic() + 30) == "lost"
    info = batch_info(r, acct.name, "b1")
    client: Any = r
    total = int(client.hget(keys.batch(acct.name, "b1"), "chunks_total"))
    rows = [row for index in range(total)
            for row in json.loads(client.hget(chunk_key(acct.name, "b1", index),
                                              "rows"))]
    plan_final.apply_late_findings(r, acct.name, "b1", rows)  # as the chunk's record does
    planned = sorted(cid for row in rows for cid in row["contact_ids"])
    assert planned == sorted(f"C{i}" for i in range(11))
    assert sorted(row["email"] for row in rows).count("dup@example.com") == 1
    assert int(client.hget(keys.batch(acct.name, "b1"), "n:contacts")) == 11
    assert info["status"] == "running"
    assert not r.exists(keys.batch_plan(acct.name, "b1"), keys.batch_plan_emails(acct.name, "b1"))


def _wait_for(condition: Any, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_a_first_sync_posts_its_planned_chunks_while_later_slices_wait_to_be_planned(
        r: redis.Redis, sandbox: Any, worker: None) -> None:
    from workers.push.plan.stream import StreamPlanner

    acct = PushAccount(r, sandbox)
    acct.change("C0", email="dup@example.com", first_name="Older")
    for i in range(1, 9):
        acct.change(f"C{i}")
    acct.change("C9", email="DUP@example.com", first_name="Newest")  # planned first
    assert start_batch(r, acct.name, "b1", time.time()) == 10
    while not int(r.hget(keys.batch(acct.name, "b1"), "chunks_total") or 0):
        assert StreamPlanner(r, acct.name, "b1").run(deadline=0) == "more"  # a slice a run
    _wait_for(lambda: len(acct.profiles()) >= 3, "the first chunk in Klaviyo")
    assert not r.hget(keys.batch(acct.name, "b1"), "planned")
    assert batch_info(r, acct.name, "b1")["status"] == "running"  # recorded once planned
    while StreamPlanner(r, acct.name, "b1").run(deadline=0) == "more":
        pass
    _wait_for(lambda: batch_info(r, acct.name, "b1")["status"] == "completed", "the batch")
    info = batch_info(r, acct.name, "b1")
    assert info["report"]["contacts"] == 10 and info["report"]["created"] == 9
    profiles = acct.by_email()
    assert len(profiles) == 9 and profiles["dup@example.com"]["first_name"] == "Newest"
    synced = r.hmget(keys.synced_contacts(acct.name), ["C0", "C9"])
    assert all(s and SyncedRecord.load(s).email == "dup@example.com" for s in synced)


def test_a_later_sync_posts_nothing_before_its_plan_is_complete(
        r: redis.Redis, sandbox: Any, worker: None) -> None:
    from workers.push.plan.stream import StreamPlanner

    acct = PushAccount(r, sandbox)
    acct.change("C0")
    acct.sync()
    posted = _imports(sandbox)
    for i in range(1, 9):
        acct.change(f"C{i}")
    assert start_batch(r, acct.name, "b2", time.time()) == 8
    assert StreamPlanner(r, acct.name, "b2").run(deadline=0) == "more"
    time.sleep(1.0)  # time enough for a posted chunk to reach the sandbox
    assert _imports(sandbox) == posted
    assert len(acct.profiles()) == 1


def _imports(sandbox: Any) -> int:
    return sum(sandbox.calls().get("bulk_import_profiles", {}).values())
