"""Through the real processes: no duplicate profiles by email, the newest
``occurred_at`` wins, the default list as it was when a contact was first synced, and consent
never invented (unsubscribes sent, deletes only leave lists)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.pipeline import Account, Pipeline

STATE_SHAPES = ("redis", "cluster")
"""Every test here runs on one Redis and on a Redis Cluster (its conftest.py)."""

pytestmark = pytest.mark.xdist_group("test_profiles_lists_and_consent")
"""The module shares one running stack (tests/e2e/conftest.py): keep it on one worker."""


def email_consent(profile: dict[str, Any]) -> Any:
    return profile["subscriptions"]["email"]["marketing"]["consent"]


def _existing_profile(pipeline: Pipeline, account: Account, email: str) -> str:
    body = {"data": {"type": "profile", "attributes": {"email": email, "first_name": "Old"}}}
    answer: Any = pipeline.klaviyo(account).Profiles.create_profile(body)
    return str(answer.data.id)


def test_two_contacts_sharing_an_email_become_one_profile(pipeline: Pipeline) -> None:
    acct = pipeline.add_account()
    existing_id = _existing_profile(pipeline, acct, "known@example.com")
    report = pipeline.sync(acct, [
        pipeline.upsert(acct, "C-1", 1, email="Shared@Example.com", first_name="First"),
        pipeline.upsert(acct, "C-2", 2, email="shared@example.com ", first_name="Second"),
        pipeline.upsert(acct, "C-3", 1, email="KNOWN@example.com", first_name="Crm"),
    ])
    profiles = pipeline.profiles(acct)
    assert set(profiles) == {"shared@example.com", "known@example.com"}
    assert profiles["shared@example.com"]["first_name"] == "Second", "the newest state is sent"
    assert profiles["known@example.com"]["id"] == existing_id, "an existing profile is updated"
    assert profiles["known@example.com"]["first_name"] == "Crm"
    assert (report["contacts"], report["created"], report["updated"]) == (3, 1, 1), (
        "created/updated count profiles: two contacts, one profile")

    pipeline.sync(acct, [pipeline.upsert(acct, "C-1", 3, email="shared@example.com",
                                         first_name="Third")])
    profiles = pipeline.profiles(acct)
    assert len(profiles) == 2 and profiles["shared@example.com"]["first_name"] == "Third"


def test_an_email_change_keeps_the_profile(pipeline: Pipeline) -> None:
    acct = pipeline.add_account()
    pipeline.sync(acct, [pipeline.upsert(acct, "C-1", 1, email="old@example.com")])
    before = pipeline.profiles(acct)["old@example.com"]["id"]

    pipeline.sync(acct, [pipeline.upsert(acct, "C-1", 2, email="new@example.com")])
    profiles = pipeline.profiles(acct)
    assert list(profiles) == ["new@example.com"]
    assert profiles["new@example.com"]["id"] == before


def test_an_email_change_to_a_taken_email_is_reported_not_duplicated(
    pipeline: Pipeline,
) -> None:
    acct = pipeline.add_account()
    pipeline.sync(acct, [pipeline.upsert(acct, "C-1", 1, email="ann@example.com"),
                         pipeline.upsert(acct, "C-2", 1, email="bob@example.com")])
    before = {email: p["id"] for email, p in pipeline.profiles(acct).items()}

    pipeline.post([pipeline.upsert(acct, "C-1", 2, email="bob@example.com")])
    [batch] = pipeline.settle(acct)
    assert batch["report"]["conflicts"] == 1
    conflict = pipeline.details(acct, batch)["C-1"]
    assert conflict["outcome"] == "conflict"
    assert "already belongs to another Klaviyo profile" in conflict["reason"]
    after = {email: p["id"] for email, p in pipeline.profiles(acct).items()}
    assert after == before, "no profile created, none re-pointed"


def test_the_newest_occurred_at_wins_whatever_the_arrival_order(
    pipeline: Pipeline,
) -> None:
    acct = pipeline.add_account()
    report = pipeline.sync(acct, [
        pipeline.upsert(acct, "C-1", 20, first_name="Newest"),
        pipeline.upsert(acct, "C-1", 10, first_name="Older"),
        pipeline.upsert(acct, "C-2", 5, first_name="Early"),
        pipeline.upsert(acct, "C-2", 15, first_name="Later"),
    ])
    assert report.get("created") == 2
    profiles = pipeline.profiles(acct)
    assert profiles["c-1@example.com"]["first_name"] == "Newest"
    assert profiles["c-2@example.com"]["first_name"] == "Later"

    late = [pipeline.upsert(acct, "C-1", 19, first_name="Late"),
            pipeline.upsert(acct, "C-2", 15, first_name="Same time")]
    assert pipeline.sync(acct, late) == {}, "an older or equal state changes nothing"
    profiles = pipeline.profiles(acct)
    assert profiles["c-1@example.com"]["first_name"] == "Newest"
    assert profiles["c-2@example.com"]["first_name"] == "Later"


def test_first_time_contacts_join_the_default_list_as_it_was_then(
    pipeline: Pipeline,
) -> None:
    acct = pipeline.add_account()
    first, second = pipeline.create_list(acct, "First"), pipeline.create_list(acct, "Second")
    pipeline.set_account(acct, "--default-list", first)
    pipeline.sync(acct, [pipeline.upsert(acct, "C-1", 1)])

    pipeline.set_account(acct, "--default-list", second)
    pipeline.sync(acct, [pipeline.upsert(acct, "C-1", 2, first_name="Changed"),
                         pipeline.upsert(acct, "C-2", 2)])
    assert pipeline.members(acct, first) == {"c-1@example.com"}
    assert pipeline.members(acct, second) == {"c-2@example.com"}, (
        "changing the default list does not move contacts synced earlier")
    assert pipeline.profiles(acct)["c-1@example.com"]["first_name"] == "Changed"


def test_an_unsubscribed_contact_is_unsubscribed_and_kept_out_of_the_list(
    pipeline: Pipeline,
) -> None:
    acct = pipeline.add_account()
    newsletter = pipeline.create_list(acct, "Newsletter")
    pipeline.set_account(acct, "--default-list", newsletter)
    pipeline.sync(acct, [pipeline.upsert(acct, "C-sub", 1, marketing="subscribed"),
                         pipeline.upsert(acct, "C-unsub", 1, marketing="unsubscribed"),
                         pipeline.upsert(acct, "C-unknown", 1, marketing="unknown")])
    profiles = pipeline.profiles(acct)
    assert pipeline.members(acct, newsletter) == {"c-sub@example.com", "c-unknown@example.com"}
    assert email_consent(profiles["c-unsub@example.com"]) == "UNSUBSCRIBED"
    assert all(email_consent(p) != "SUBSCRIBED" for p in profiles.values()), (
        "list membership is not consent: nobody is subscribed")

    report = pipeline.sync(acct, [pipeline.upsert(acct, "C-sub", 2, marketing="unsubscribed")])
    assert report.get("unsubscribed") == 1
    assert email_consent(pipeline.profiles(acct)["c-sub@example.com"]) == "UNSUBSCRIBED"


def test_a_delete_removes_list_membership_but_keeps_the_profile(
    pipeline: Pipeline,
) -> None:
    acct = pipeline.add_account()
    synced_list = pipeline.create_list(acct, "Synced")
    own_list = pipeline.create_list(acct, "Signed up by form")
    pipeline.set_account(acct, "--default-list", synced_list)
    pipeline.sync(acct, [pipeline.upsert(acct, "C-1", 1), pipeline.upsert(acct, "C-2", 1)])
    profile_id = pipeline.profiles(acct)["c-1@example.com"]["id"]
    pipeline.sandbox.add_members(own_list, [profile_id], key=acct.key)

    report = pipeline.sync(acct, [pipeline.delete(acct, "C-1", 2)])
    assert report.get("removed_from_lists") == 1
    profiles = pipeline.profiles(acct)
    assert profiles["c-1@example.com"]["id"] == profile_id, "the profile is kept"
    assert pipeline.members(acct, synced_list) == {"c-2@example.com"}
    assert pipeline.members(acct, own_list) == {"c-1@example.com"}, (
        "only the lists the sync put it in")
