"""The batch actors against the sandbox: profiles, duplicates, filters, invalid emails."""

from __future__ import annotations

from typing import Any

import redis

from tests.workers.push_harness import PushAccount


def test_a_batch_with_nothing_to_send_completes_at_once(
        r: redis.Redis, sandbox: Any, worker: None) -> None:
    acct = PushAccount(r, sandbox)
    acct.change("C1", email="not-an-email")
    info = acct.sync()
    assert info["report"]["invalid_email"] == 1
    assert info["report"]["created"] == 0
    assert acct.profiles() == []


def test_contacts_sharing_an_email_or_its_case_variants_become_one_profile(
        r: redis.Redis, sandbox: Any, worker: None) -> None:
    acct = PushAccount(r, sandbox)
    acct.change("C1", email="Ann@Example.com", first_name="Ann")
    acct.change("C2", email="ann@example.com ", first_name="Annie")
    acct.change("C3", email="bob@example.com", first_name="Bob")
    info = acct.sync()
    profiles = acct.by_email()
    assert sorted(profiles) == ["ann@example.com", "bob@example.com"]
    assert profiles["ann@example.com"]["first_name"] == "Annie"  # the newest state wins
    assert info["report"]["created"] == 2
    assert info["report"]["contacts"] == 3


def test_an_existing_klaviyo_profile_is_updated_not_duplicated(
        r: redis.Redis, sandbox: Any, worker: None) -> None:
    acct = PushAccount(r, sandbox)
    acct.api.Profiles.create_profile({"data": {"type": "profile", "attributes": {
        "email": "ann@example.com", "first_name": "Old"}}})
    acct.change("C1", email="ANN@example.com", first_name="Ann", job_title="Buyer",
                company={"name": "Acme Ltd", "type": "Customer"}, properties={"region": "N"})
    info = acct.sync()
    [profile] = acct.profiles()
    assert profile["first_name"] == "Ann"
    assert profile["title"] == "Buyer"
    assert profile["organization"] == "Acme Ltd"
    assert profile["properties"]["region"] == "N"
    assert profile["properties"]["crm_contact_id"] == "C1"
    assert (info["report"]["created"], info["report"]["updated"]) == (0, 1)


def test_filters_and_invalid_emails_are_counted_with_their_reasons(
        r: redis.Redis, sandbox: Any, worker: None) -> None:
    acct = PushAccount(r, sandbox, contact_roles=["Decision Maker"],
                       company_types=["Customer"])
    acct.change("C1", role="decision maker ", company={"type": "customer"})
    acct.change("C2", role="Intern", company={"type": "Customer"})
    acct.change("C3", role="Decision Maker", company={"type": "Customer"}, email="nope")
    acct.change("C4", role="Decision Maker", company={"type": "Customer"}, email=None)
    info = acct.sync()
    report = info["report"]
    assert (report["excluded_filter"], report["invalid_email"], report["created"]) == (1, 2, 1)
    assert '"outcome": "invalid_email"' in info["details"]["C3"]
    assert "empty email" in info["details"]["C4"]
    assert list(acct.by_email()) == ["c1@example.com"]


def test_a_contact_sent_with_the_same_data_again_is_unchanged(
        r: redis.Redis, sandbox: Any, worker: None) -> None:
    acct = PushAccount(r, sandbox)
    acct.change("C1", first_name="Ann")
    acct.sync()
    acct.change("C1", first_name="Ann")
    info = acct.sync()
    assert info["report"]["unchanged"] == 1
    assert info["report"]["created"] + info["report"]["updated"] == 0
