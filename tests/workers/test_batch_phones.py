"""Phones go to Klaviyo in E.164, are left off when unreadable or shared, and never merge
two people (docs/KLAVIYO.md §3)."""

from __future__ import annotations

import json
from typing import Any

import redis

from shared import constants as keys
from tests.workers.push_harness import PushAccount


def _details(info: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {cid: json.loads(v) for cid, v in info["details"].items()}


def test_phones_written_locally_arrive_in_e164_read_in_the_accounts_region(
        r: redis.Redis, sandbox: Any, worker: None) -> None:
    acct = PushAccount(r, sandbox, phone_region="GB")
    acct.change("C1", phone="020 7946 0123")
    acct.change("C2", phone="+1 (415) 555-0100")
    acct.change("C3", phone="07911 123456")
    info = acct.sync()
    profiles = acct.by_email()
    assert profiles["c1@example.com"]["phone_number"] == "+442079460123"
    assert profiles["c2@example.com"]["phone_number"] == "+14155550100"
    assert profiles["c3@example.com"]["phone_number"] == "+447911123456"
    assert info["report"]["phone_dropped"] == 0


def test_a_phone_that_cannot_be_read_is_left_off_and_counted_and_the_contact_still_syncs(
        r: redis.Redis, sandbox: Any, worker: None) -> None:
    acct = PushAccount(r, sandbox)  # no phone region: a national number cannot be read
    acct.change("C1", phone="n/a", first_name="Ann")
    acct.change("C2", phone="020 7946 0123", first_name="Bob")
    info = acct.sync()
    profiles = acct.by_email()
    assert profiles["c1@example.com"]["first_name"] == "Ann"
    assert not profiles["c1@example.com"].get("phone_number")
    assert not profiles["c2@example.com"].get("phone_number")
    assert info["report"]["phone_dropped"] == 2
    assert info["report"]["created"] == 2
    details = _details(info)
    assert details["C1"] == {"outcome": "phone_dropped", "reason": "not a phone number"}
    assert "no phone region" in details["C2"]["reason"]
    assert r.hlen(keys.rejected(acct.name)) == 0


def test_ten_colleagues_sharing_a_switchboard_stay_ten_profiles_none_with_the_number(
        r: redis.Redis, sandbox: Any, worker: None) -> None:
    acct = PushAccount(r, sandbox, phone_region="GB")
    for i in range(10):
        acct.change(f"C{i}", phone="020 7946 0000" if i % 2 else "+44 20 7946 0000")
    info = acct.sync()
    profiles = acct.by_email()
    assert sorted(profiles) == sorted(f"c{i}@example.com" for i in range(10))
    assert not any(p.get("phone_number") for p in profiles.values())
    assert info["report"]["phone_shared"] == 10
    # a colleague who joins later is not given the switchboard either
    acct.change("C10", phone="020 7946 0000")
    later = acct.sync()
    assert not acct.by_email()["c10@example.com"].get("phone_number")
    assert later["report"]["phone_shared"] == 1


def test_a_phone_a_later_contact_also_uses_is_not_given_to_the_newcomer(
        r: redis.Redis, sandbox: Any, worker: None) -> None:
    acct = PushAccount(r, sandbox)
    acct.change("C1", phone="+447911123451")
    acct.sync()
    acct.change("C2", phone="+447911123451")
    info = acct.sync()
    profiles = acct.by_email()
    assert profiles["c1@example.com"]["phone_number"] == "+447911123451"
    assert not profiles["c2@example.com"].get("phone_number")
    assert _details(info)["C2"]["outcome"] == "phone_shared"


def test_a_profile_that_already_owns_the_number_keeps_its_email_and_the_contact_gets_its_own(
        r: redis.Redis, sandbox: Any, worker: None) -> None:
    acct = PushAccount(r, sandbox, phone_region="GB")
    acct.api.Profiles.create_profile({"data": {"type": "profile", "attributes": {
        "email": "reception@acme.example", "phone_number": "+442079460123"}}})
    acct.change("C1", email="ann@acme.example", phone="020 7946 0123")
    info = acct.sync()
    profiles = acct.by_email()
    assert sorted(profiles) == ["ann@acme.example", "reception@acme.example"]
    assert profiles["reception@acme.example"]["phone_number"] == "+442079460123"
    assert not profiles["ann@acme.example"].get("phone_number")
    assert _details(info)["C1"] == {"outcome": "phone_dropped",
                                    "reason": "the phone belongs to another Klaviyo profile"}
    assert r.hlen(keys.rejected(acct.name)) == 0


def test_a_phone_is_never_in_the_job_that_matches_a_profile_by_email(
        r: redis.Redis, sandbox: Any, worker: None) -> None:
    acct = PushAccount(r, sandbox)
    acct.change("C1", phone="+447911123452")
    acct.sync()
    requests = sandbox.requests(acct.key, operation="bulk_import_profiles")
    assert len(requests) == 2, "the profile job, then the phone-only job"
    acct.change("C1", phone="+447911123452", first_name="Changed")
    acct.sync()
    again = sandbox.requests(acct.key, operation="bulk_import_profiles")
    assert len(again) == 3, "an unchanged phone is not sent again"
    assert acct.by_email()["c1@example.com"]["first_name"] == "Changed"
