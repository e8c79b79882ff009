"""Email changes keep the profile; conflicts are reported; lazily learnt identities."""

from __future__ import annotations

from typing import Any

import orjson
import redis

from shared import constants as keys
from shared.redis_text import as_text
from tests.conftest import Setting
from tests.workers.push_harness import PushAccount


def test_an_email_change_changes_the_email_of_the_same_profile(
        r: redis.Redis, sandbox: Any, worker: None) -> None:
    acct = PushAccount(r, sandbox)
    acct.change("C1", email="old@example.com", first_name="Ann")
    acct.sync()
    [before] = acct.profiles()
    acct.change("C1", email="New@Example.com", first_name="Ann")
    info = acct.sync()
    [after] = acct.profiles()
    assert after["id"] == before["id"]
    assert after["email"] == "new@example.com"
    assert info["report"]["conflicts"] == 0


def test_after_an_email_change_the_consent_ledger_keeps_the_new_email_only(
        r: redis.Redis, sandbox: Any, worker: None) -> None:
    acct = PushAccount(r, sandbox)
    acct.change("C1", email="old@example.com", first_name="Ann")
    acct.change("C2", email="shared@example.com", first_name="Bo")
    acct.change("C3", email="shared@example.com", first_name="Bo")
    acct.sync()
    acct.change("C1", email="new@example.com", first_name="Ann")
    acct.change("C2", email="bo@example.com", first_name="Bo")
    acct.sync()
    ledger = r.hgetall(keys.consent_ledger(acct.name))
    held = {as_text(email): orjson.loads(record)["c"] for email, record in ledger.items()}
    assert held == {"new@example.com": ["C1"], "bo@example.com": ["C2"],
                    "shared@example.com": ["C3"]}


def test_an_email_change_to_another_profiles_email_is_a_reported_conflict_not_a_duplicate(
        r: redis.Redis, sandbox: Any, worker: None) -> None:
    acct = PushAccount(r, sandbox)
    acct.api.Profiles.create_profile({"data": {"type": "profile", "attributes": {
        "email": "taken@example.com", "first_name": "Other"}}})
    acct.change("C1", email="mine@example.com", first_name="Ann")
    acct.sync()
    acct.change("C1", email="taken@example.com", first_name="Ann")
    info = acct.sync()
    profiles = acct.by_email()
    assert sorted(profiles) == ["mine@example.com", "taken@example.com"]
    assert profiles["taken@example.com"]["first_name"] == "Other"
    assert info["report"]["conflicts"] == 1
    assert "another Klaviyo profile" in info["details"]["C1"]


def test_identities_not_learnt_from_big_jobs_are_looked_up_when_a_contact_is_deleted(
        r: redis.Redis, sandbox: Any, worker: None, setting: Setting) -> None:
    setting("SYNC_JOB_PROFILE_PAGES", "0")  # as if every job were too big to read
    acct = PushAccount(r, sandbox)
    acct.set(default_list_id=acct.create_list())
    acct.change("C1")
    first = acct.sync()
    assert first["report"]["created"] == 1  # first-time contact, email never mapped
    acct.change("C1", deleted=True, email=None)
    info = acct.sync()
    assert acct.by_email()["c1@example.com"]["lists"] == []
    assert info["report"]["removed_from_lists"] == 1


def test_an_email_change_is_applied_when_the_old_profile_was_never_mapped(
        r: redis.Redis, sandbox: Any, worker: None, setting: Setting) -> None:
    setting("SYNC_JOB_PROFILE_PAGES", "0")
    acct = PushAccount(r, sandbox)
    acct.change("C1", email="old@example.com")
    acct.sync()
    [before] = acct.profiles()
    acct.change("C1", email="new@example.com")
    acct.sync()
    [after] = acct.profiles()
    assert (after["id"], after["email"]) == (before["id"], "new@example.com")
