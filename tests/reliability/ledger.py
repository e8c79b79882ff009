"""What the reliability tests share: a generated CRM feed, the wait for it to be synced,
the count of lost and duplicated contacts, and the figures line each test reports.

The figures line is emitted as a :class:`ReliabilityFigures` warning, so it appears in the
"warnings summary" of every pytest run, xdist included (printed output would be swallowed
by the xdist workers); ``docs/RELIABILITY.md`` is filled from those lines.
"""

from __future__ import annotations

import random
import time
import warnings
from dataclasses import dataclass
from typing import Any

import redis

from sandbox.inspect_client import SandboxClient
from shared import constants as keys
from tests.support.process_stack import ProcessStack, contact_event, wait_until
from workers.push import lifecycle

ACCOUNT = "default"
POST_SIZE = 100


class ReliabilityFigures(UserWarning):
    """One line of figures of a fault-injection run (not a problem)."""


def report(fault: str, contacts: int, lost: int, duplicated: int, recover_s: str) -> None:
    """Emit ``RELIABILITY | fault | contacts | lost | duplicated | time to recover``."""
    line = f"RELIABILITY | {fault} | {contacts} | {lost} | {duplicated} | {recover_s}"
    print(line)
    warnings.warn(line, ReliabilityFigures, stacklevel=2)


def email_of(tag: str, index: int) -> str:
    return f"{tag}-{index:05d}@example.com"


def feed(tag: str, count: int, *, first: int = 0, version: int = 1,
         minute: int = 0) -> list[dict[str, Any]]:
    """``count`` contact events, contact ids ``{tag}-{n}``, ``first_name`` = ``v{version}``."""
    return [contact_event(ACCOUNT, f"{tag}-{n}", f"2026-11-22T10:{minute:02d}:00Z",
                          email=email_of(tag, n), first_name=f"v{version}")
            for n in range(first, first + count)]


def post_all(stack: ProcessStack, events: list[dict[str, Any]], size: int = POST_SIZE) -> None:
    """Post ``events`` in requests of ``size``; every one must answer 202."""
    for start in range(0, len(events), size):
        answer = stack.post_events(events[start:start + size])
        assert answer.status_code == 202, answer.text


@dataclass
class Outcome:
    """What Klaviyo holds against what was sent."""

    expected: int
    lost: int
    duplicated: int
    stale: int
    """profiles there, but not with the newest ``first_name`` sent"""


def compare(sandbox: SandboxClient, expected: dict[str, str]) -> Outcome:
    """``expected``: email -> newest first_name. Duplicated = profiles beyond one per email."""
    profiles = sandbox.profiles()
    seen: dict[str, int] = {}
    names: dict[str, str] = {}
    for profile in profiles:
        email = profile.get("email") or ""
        seen[email] = seen.get(email, 0) + 1
        names[email] = profile.get("first_name") or ""
    lost = sum(1 for email in expected if email not in seen)
    duplicated = sum(n - 1 for n in seen.values()) + sum(1 for e in seen if e not in expected)
    stale = sum(1 for email, name in expected.items() if email in names and names[email] != name)
    return Outcome(len(expected), lost, duplicated, stale)


def settled(r: redis.Redis) -> bool:
    """Nothing pending and no batch running for the account."""
    return (not r.exists(keys.pending(ACCOUNT)) and not r.exists(keys.pending_bulk(ACCOUNT))
            and lifecycle.running_batch(r, ACCOUNT) is None)


def wait_synced(sandbox: SandboxClient, r: redis.Redis, expected: dict[str, str],
                timeout: float = 240) -> float:
    """Wait until Klaviyo holds every expected profile in its newest state and the account
    is settled; returns the time that took (s)."""
    started = time.monotonic()

    def done() -> bool:
        outcome = compare(sandbox, expected)
        return outcome.lost == 0 and outcome.stale == 0 and settled(r)

    try:
        wait_until(done, timeout, "every contact synced and the account settled")
    except TimeoutError:
        outcome = compare(sandbox, expected)
        raise AssertionError(f"not synced: {outcome}, settled={settled(r)}, "
                             f"state={lifecycle.account_state(r, ACCOUNT)}") from None
    return time.monotonic() - started


def batch_records(r: redis.Redis) -> list[dict[str, Any]]:
    """The account's batch records, oldest first."""
    return list(reversed(lifecycle.recent_batches(r, ACCOUNT, limit=1000)))


def assert_batches_ran_once(r: redis.Redis, contacts: int) -> list[dict[str, Any]]:
    """Every batch completed, none listed twice, and together they carried each contact once
    (a change delivered again, or a batch run again, would add to the sizes)."""
    records = batch_records(r)
    ids = [record["batch_id"] for record in records]
    assert len(ids) == len(set(ids)), f"a batch is listed twice: {ids}"
    assert {record["status"] for record in records} == {"completed"}, records
    assert sum(record["size"] for record in records) == contacts, records
    return records


def seeded(name: str) -> random.Random:
    """The test's own random source (seeded by its name, so a failure replays)."""
    return random.Random(name)
