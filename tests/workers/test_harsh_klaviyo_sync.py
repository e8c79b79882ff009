"""A 3,000-contact first sync against a Klaviyo as harsh as the real one (docs/KLAVIYO.md):
emails it refuses, phones written locally or junk, a switchboard number shared by many
colleagues and already owned by a profile, CDN-challenge 403s and 429s without Retry-After.
Every contact Klaviyo accepts arrives once, exactly the refused ones are listed with
Klaviyo's reason, and no profile that was there before loses its email."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from typer.testing import CliRunner

from cli.main import app
from tests.conftest import Setting
from tests.workers.push_harness import PushAccount

CONTACTS = 3_000
SWITCHBOARD = "+442079460000"
TAKEN = "+447911123456"
"""A number a profile already in Klaviyo owns, which exactly one contact also gives."""


def _phone(i: int) -> str | None:
    kind = i % 10
    if kind == 0:
        return "020 7946 0000" if i % 20 else SWITCHBOARD  # the switchboard, two spellings
    if kind == 1:
        return "n/a"
    if kind == 2:
        return f"+44 7911 {i:06d}"
    if kind == 3:
        return f"07911 {i:06d}"  # national format, read in the account's region (GB)
    return None


def _email(i: int) -> str:
    if i % 200 == 7:
        return f"person{i}@refused.example"  # Klaviyo refuses these; our check cannot know
    if i % 500 == 11:
        return f"person{i}@example.c"  # a one-letter TLD: Klaviyo refuses it, we know
    return f"person{i}@example.com"


@pytest.fixture
def harsh(sandbox: Any, setting: Setting, worker: None) -> Iterator[None]:
    setting("SYNC_CHUNK_MAX_PROFILES", "500")
    sandbox.set_strictness(refused_email_domains=["refused.example"], name_bad_rows=2)
    yield
    sandbox.clear_faults()


def test_a_3000_contact_sync_through_harsh_klaviyo_loses_no_contact_klaviyo_accepts(
        r: redis.Redis, redis_url: str, sandbox: Any, harsh: None) -> None:
    acct = PushAccount(r, sandbox, phone_region="GB")
    newsletter = acct.create_list()
    acct.set(default_list_id=newsletter)
    for email, number in (("reception@example.com", SWITCHBOARD), ("owner@example.com", TAKEN)):
        acct.api.Profiles.create_profile({"data": {"type": "profile", "attributes": {
            "email": email, "phone_number": number}}})
    for i in range(CONTACTS):
        fields: dict[str, Any] = {"email": _email(i), "first_name": f"P{i}"}
        phone = TAKEN if i == 4 else _phone(i)
        if phone:
            fields["phone"] = phone
        acct.change(f"C{i}", origin="import", **fields)
    sandbox.set_faults("*", status_403_html=0.15, status_429=0.15, omit_retry_after=1.0,
                       retry_after=0)

    info = acct.sync(timeout=300)
    sandbox.clear_faults()

    refused = {f"C{i}" for i in range(CONTACTS) if i % 200 == 7}
    invalid = {f"C{i}" for i in range(CONTACTS) if i % 500 == 11}
    accepted = [i for i in range(CONTACTS) if f"C{i}" not in refused | invalid]
    assert (len(refused), len(invalid)) == (15, 6)

    profiles = acct.by_email()  # asserts no email has two profiles
    assert sorted(profiles) == sorted(
        [f"person{i}@example.com" for i in accepted]
        + ["owner@example.com", "reception@example.com"])
    assert profiles["reception@example.com"]["phone_number"] == SWITCHBOARD
    assert profiles["owner@example.com"]["phone_number"] == TAKEN
    for i in accepted:
        profile = profiles[f"person{i}@example.com"]
        assert profile["first_name"] == f"P{i}"
        assert profile["lists"] == [newsletter]
        expected = f"+447911{i:06d}" if i % 10 in (2, 3) else None
        assert (profile.get("phone_number") or None) == expected, (i, profile)

    listed = CliRunner().invoke(
        app, ["rejected", "list", "--account", acct.name, "--json"],
        env={"REDIS_URL": redis_url, "SYNC_SECRET_KEY": os.environ["SYNC_SECRET_KEY"]})
    assert listed.exit_code == 0, listed.output
    rejected = {item["contact_id"]: item for item in json.loads(listed.output)}
    assert set(rejected) == refused
    assert {(i["code"], i["field"], i["detail"]) for i in rejected.values()} == {
        ("invalid", "email", "Invalid email address")}

    report = info["report"]
    assert report["rejected"] == 15 and report["invalid_email"] == 6
    assert report["created"] == len(accepted)
    assert report["phone_shared"] == CONTACTS // 10
    junk = sum(1 for i in accepted if i % 10 == 1)
    assert report["phone_dropped"] == junk + 1  # the junk ones and the number owner@ owns
    details = {cid: json.loads(v) for cid, v in info["details"].items()}
    assert details["C4"] == {"outcome": "phone_dropped",
                             "reason": "the phone belongs to another Klaviyo profile"}
    hits = [req["status"] for req in sandbox.requests(acct.key)]
    assert 403 in hits and 429 in hits, "the faults were met"
