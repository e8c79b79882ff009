"""Many CRM deletes at once: spread over chunks, profile ids looked up 100 a call, and a
rate limit or a failed delivery in the middle resumes where it stopped instead of starting
the lookups again."""

from __future__ import annotations

import time
from typing import Any

import pytest
import redis

from tests.workers.dramatiq_harness import wait_for
from tests.workers.push_harness import PushAccount
from workers.push.lifecycle import batch_info, start_batch

CONTACTS = 3000


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Set before the worker fixture reads the settings."""
    monkeypatch.setenv("SYNC_JOB_PROFILE_PAGES", "0")  # no ids learnt: every delete looks up
    monkeypatch.setenv("SYNC_CHUNK_MAX_DELETES", "500")


def synced_in_a_list(acct: PushAccount, count: int) -> str:
    list_id = acct.create_list()
    acct.set(default_list_id=list_id)
    for i in range(count):
        acct.change(f"C{i}")
    acct.sync(timeout=120)
    return list_id


def delete_all(acct: PushAccount, count: int) -> None:
    for i in range(count):
        acct.change(f"C{i}", deleted=True, email=None)


def answered(sandbox: Any, key: str, operation: str) -> dict[str, int]:
    return dict(sandbox.calls(key).get(operation, {}))


def test_deletes_throttled_midway_resume_and_take_every_contact_out_of_the_list(
        r: redis.Redis, sandbox: Any, worker: None) -> None:
    acct = PushAccount(r, sandbox)
    list_id = synced_in_a_list(acct, CONTACTS)
    assert answered(sandbox, acct.key, "get_profiles") == {}
    delete_all(acct, CONTACTS)
    sandbox.set_limits("on", scale=0.1)  # get_profiles 7/s, list removals 1/s: 429s
    info = acct.sync(timeout=180)
    sandbox.set_limits("off")
    profiles = acct.by_email()
    assert len(profiles) == CONTACTS
    assert [p["email"] for p in profiles.values() if p["lists"]] == []
    assert info["report"]["removed_from_lists"] == CONTACTS
    lookups = answered(sandbox, acct.key, "get_profiles")
    removals = answered(sandbox, acct.key, "remove_profiles_from_list")
    assert lookups.get("429", 0) > 0 and removals.get("429", 0) > 0  # throttled midway
    assert lookups.get("200") == CONTACTS // 100  # each email looked up once, 100 a call
    assert removals.get("204") == CONTACTS // 500  # one call per chunk of 500
    assert list_id in {lst["id"] for lst in sandbox.lists(acct.key)}


def test_deleted_contacts_of_a_list_deleted_in_klaviyo_still_complete_the_batch(
        r: redis.Redis, sandbox: Any, worker: None) -> None:
    acct = PushAccount(r, sandbox)
    gone = synced_in_a_list(acct, 10)
    sandbox.delete_list(gone, key=acct.key)
    delete_all(acct, 10)
    info = acct.sync()
    assert info["status"] == "completed"
    assert answered(sandbox, acct.key, "remove_profiles_from_list") == {"404": 1}
    assert answered(sandbox, acct.key, "get_list") == {"404": 1}
    assert len(acct.profiles()) == 10


def test_a_delivery_that_failed_after_its_lookups_resumes_with_the_removals_only(
        r: redis.Redis, sandbox: Any, worker: None) -> None:
    from workers.push.batch import sync_batch

    acct = PushAccount(r, sandbox)
    synced_in_a_list(acct, 1000)
    delete_all(acct, 1000)
    sandbox.set_faults("remove_profiles_from_list", status_500=1.0)  # the message dies here
    assert start_batch(r, acct.name, "b-deletes", time.time()) > 0
    sync_batch.send(acct.name, "b-deletes")
    wait_for(lambda: answered(sandbox, acct.key, "remove_profiles_from_list").get("500", 0) >= 2)
    assert answered(sandbox, acct.key, "get_profiles") == {"200": 10}
    sandbox.clear_faults()
    wait_for(lambda: batch_info(r, acct.name, "b-deletes").get("status") == "completed")
    assert answered(sandbox, acct.key, "get_profiles") == {"200": 10}  # not looked up again
    assert answered(sandbox, acct.key, "remove_profiles_from_list").get("204") == 2
    assert [p["email"] for p in acct.profiles() if p["lists"]] == []
    assert batch_info(r, acct.name, "b-deletes")["report"]["removed_from_lists"] == 1000
