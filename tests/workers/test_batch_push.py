"""The batch actors against the sandbox: profiles, duplicates, filters, invalid emails."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis

from tests.workers.push_harness import PushAccount, prepare_env, push_worker


@pytest.fixture
def worker(redis_url: str, sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    prepare_env(monkeypatch, redis_url, sandbox.url)
    with push_worker(redis_url):
        yield


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
