"""Klaviyo refuses a whole bulk job for one bad row: only the rows it names fail, the rest
are posted again at once (docs/KLAVIYO.md, "one bad row")."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
import redis
from typer.testing import CliRunner

from cli.main import app
from shared import constants as keys
from tests.workers.push_harness import PushAccount

STATE_SHAPES = ("redis", "cluster")
"""On a Redis Cluster too: a refusal is recorded in the account's keys and in the global
set of rejecting accounts, which sit on other slots."""


@pytest.fixture(autouse=True)
def _refused_domain(sandbox: Any) -> None:
    """In this module Klaviyo refuses every email at refused.example."""
    sandbox.set_strictness(refused_email_domains=["refused.example"])


def _imports(sandbox: Any, key: str) -> list[int]:
    return [req["status"] for req in sandbox.requests(key, operation="bulk_import_profiles")]


def test_only_the_rows_klaviyo_names_are_rejected_and_the_rest_arrive(
        r: redis.Redis, redis_url: str, sandbox: Any, worker: None) -> None:
    acct = PushAccount(r, sandbox)
    acct.set(default_list_id=acct.create_list())
    for i in range(30):
        domain = "refused.example" if i % 10 == 3 else "example.com"
        acct.change(f"C{i}", email=f"person{i}@{domain}")
    info = acct.sync()
    assert _imports(sandbox, acct.key) == [400, 202]
    assert info["report"]["rejected"] == 3 and info["report"]["created"] == 27
    assert info["report"]["import_rounds"] == 1
    profiles = acct.by_email()
    assert len(profiles) == 27 and all(p["lists"] for p in profiles.values())
    listed = CliRunner().invoke(
        app, ["rejected", "list", "--account", acct.name, "--json"],
        env={"REDIS_URL": redis_url, "SYNC_SECRET_KEY": os.environ["SYNC_SECRET_KEY"]})
    assert listed.exit_code == 0, listed.output
    rejected = {item["contact_id"]: item for item in json.loads(listed.output)}
    assert sorted(rejected) == ["C13", "C23", "C3"]
    assert {(i["code"], i["field"], i["detail"]) for i in rejected.values()} == {
        ("invalid", "email", "Invalid email address")}
    assert "refused.example" not in listed.output


def test_an_answer_naming_only_some_bad_rows_is_posted_again_round_after_round(
        r: redis.Redis, sandbox: Any, worker: None) -> None:
    sandbox.set_strictness(name_bad_rows=1)
    acct = PushAccount(r, sandbox)
    for i in range(12):
        domain = "refused.example" if i < 4 else "example.com"
        acct.change(f"C{i}", email=f"person{i}@{domain}")
    info = acct.sync()
    assert _imports(sandbox, acct.key) == [400, 400, 400, 400, 202]
    assert info["report"]["import_rounds"] == 4
    assert info["report"]["rejected"] == 4 and info["report"]["created"] == 8
    assert r.hlen(keys.rejected(acct.name)) == 4


def test_a_job_where_every_row_is_refused_completes_the_batch_with_nothing_sent(
        r: redis.Redis, sandbox: Any, worker: None) -> None:
    acct = PushAccount(r, sandbox)
    for i in range(3):
        acct.change(f"C{i}", email=f"person{i}@refused.example")
    info = acct.sync()
    assert _imports(sandbox, acct.key) == [400]
    assert info["report"]["rejected"] == 3
    assert acct.profiles() == []


def test_a_rejected_contact_fixed_in_the_crm_arrives_with_its_next_change(
        r: redis.Redis, sandbox: Any, worker: None) -> None:
    acct = PushAccount(r, sandbox)
    acct.change("C1", email="ann@refused.example")
    acct.sync()
    acct.change("C1", email="ann@example.com")  # fixed in the CRM
    info = acct.sync()
    assert info["report"]["created"] == 1
    assert r.hlen(keys.rejected(acct.name)) == 0
    assert sorted(acct.by_email()) == ["ann@example.com"]
