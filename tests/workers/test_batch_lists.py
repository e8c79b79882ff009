"""Default list, unsubscribes and deletes."""

from __future__ import annotations

from typing import Any

import redis

from tests.workers.push_harness import PushAccount


def email_consent(profile: dict[str, Any]) -> Any:
    return profile["subscriptions"]["email"]["marketing"]["consent"]


def test_only_first_time_contacts_join_the_default_list_as_it_is_at_that_moment(
        r: redis.Redis, sandbox: Any, worker: None) -> None:
    acct = PushAccount(r, sandbox)
    first, second = acct.create_list("First"), acct.create_list("Second")
    acct.set(default_list_id=first)
    acct.change("C1")
    acct.sync()
    acct.set(default_list_id=second)
    acct.change("C1", first_name="Changed")
    acct.change("C2")
    acct.sync()
    profiles = acct.by_email()
    assert profiles["c1@example.com"]["lists"] == [first]   # not moved by the change
    assert profiles["c2@example.com"]["lists"] == [second]
    assert profiles["c1@example.com"]["first_name"] == "Changed"


def test_adding_to_the_list_never_subscribes_anyone(
        r: redis.Redis, sandbox: Any, worker: None) -> None:
    acct = PushAccount(r, sandbox)
    acct.set(default_list_id=acct.create_list())
    acct.change("C1", marketing="subscribed")
    acct.sync()
    assert email_consent(acct.by_email()["c1@example.com"]) != "SUBSCRIBED"


def test_an_unsubscribed_contact_stays_out_of_the_list_and_is_unsubscribed_in_klaviyo(
        r: redis.Redis, sandbox: Any, worker: None) -> None:
    acct = PushAccount(r, sandbox)
    acct.set(default_list_id=acct.create_list())
    acct.change("C1", marketing="unsubscribed")
    acct.change("C2")
    info = acct.sync()
    profiles = acct.by_email()
    assert profiles["c1@example.com"]["lists"] == []
    assert email_consent(profiles["c1@example.com"]) == "UNSUBSCRIBED"
    assert profiles["c2@example.com"]["lists"] != []
    assert info["report"]["unsubscribed"] == 1


def test_a_contact_that_becomes_unsubscribed_in_the_crm_is_unsubscribed_in_klaviyo(
        r: redis.Redis, sandbox: Any, worker: None) -> None:
    acct = PushAccount(r, sandbox)
    acct.change("C1", marketing="subscribed")
    acct.sync()
    acct.change("C1", marketing="unsubscribed")
    info = acct.sync()
    assert email_consent(acct.by_email()["c1@example.com"]) == "UNSUBSCRIBED"
    assert info["report"]["unsubscribed"] == 1


def test_a_crm_delete_removes_the_contact_from_the_list_and_keeps_the_profile(
        r: redis.Redis, sandbox: Any, worker: None) -> None:
    acct = PushAccount(r, sandbox)
    acct.set(default_list_id=acct.create_list())
    acct.change("C1")
    acct.change("C2")
    acct.sync()
    acct.change("C1", deleted=True, email=None)
    info = acct.sync()
    profiles = acct.by_email()
    assert profiles["c1@example.com"]["lists"] == []
    assert profiles["c2@example.com"]["lists"] != []
    assert info["report"]["removed_from_lists"] == 1
