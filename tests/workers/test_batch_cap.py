"""The cap: initial import and bulk exports capped (most recently changed first), one-by-one
changes never."""

from __future__ import annotations

from typing import Any

import redis

from shared import constants as keys
from tests.workers.push_harness import PushAccount


def test_the_initial_import_sends_only_the_most_recently_changed_contacts_up_to_the_cap(
        r: redis.Redis, sandbox: Any, worker: None) -> None:
    acct = PushAccount(r, sandbox, max_bulk_export=3)
    for i in range(5):
        acct.change(f"C{i}")
    info = acct.sync()
    assert sorted(acct.by_email()) == ["c2@example.com", "c3@example.com", "c4@example.com"]
    assert info["report"]["held_back"] == 2
    assert sorted(r.zrange(keys.held_back(acct.name), 0, -1)) == ["C0", "C1"]


def test_later_bulk_imports_are_capped_but_one_by_one_changes_are_not(
        r: redis.Redis, sandbox: Any, worker: None) -> None:
    acct = PushAccount(r, sandbox, max_bulk_export=2)
    acct.change("FIRST")
    acct.sync()  # the initial import
    for i in range(4):
        acct.change(f"I{i}", origin="import")
    for i in range(3):
        acct.change(f"W{i}")
    info = acct.sync()
    emails = set(acct.by_email())
    assert {"w0@example.com", "w1@example.com", "w2@example.com"} <= emails
    assert {e for e in emails if e.startswith("i")} == {"i2@example.com", "i3@example.com"}
    assert info["report"]["held_back"] == 2
