"""The cadence under concurrency: two schedulers, three collectors and three worker processes
at once, several accounts, overlapping events posted by concurrent CRM clients in waves. Each
account still has one batch at a time (no two of its batches' running intervals overlap) and
Klaviyo holds exactly one profile per email, with the newest state."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from itertools import pairwise
from typing import Any

from sandbox.inspect_client import SandboxClient
from tests.e2e.pipeline import Account, Pipeline
from tests.support.process_stack import ProcessStack, wait_until
from workers.batch_lifecycle import recent_batches

ACCOUNTS, CONTACTS, WAVES, CLIENTS = 5, 30, 4, 3
SHARED_EVERY = 5
"""Every fifth contact shares its email with the contact before it (one profile for both)."""


def email(contact: int) -> str:
    owner = contact - 1 if contact % SHARED_EVERY == 0 else contact
    return f"person-{owner}@example.com"


def wave(pipeline: Pipeline, accounts: list[Account], number: int,
         rng: random.Random) -> list[list[dict[str, Any]]]:
    """One wave: every contact of every account changes (in shuffled order, some twice with
    the older state arriving last), split into requests of several accounts each."""
    events = []
    for account in accounts:
        for contact in range(CONTACTS):
            second = number * 100 + contact
            events.append(pipeline.upsert(account, f"C-{contact}", second,
                                          email=email(contact), first_name=f"w{number}"))
            if rng.random() < 0.2:
                events.append(pipeline.upsert(account, f"C-{contact}", second - 50,
                                              email=email(contact), first_name="stale"))
    rng.shuffle(events)
    return [events[i:i + 40] for i in range(0, len(events), 40)]


def test_two_schedulers_three_collectors_and_three_workers_run_one_batch_per_account_at_a_time(
    process_stack: ProcessStack, sandbox: SandboxClient,
) -> None:
    process_stack.env["SYNC_INTERVAL"] = "1"
    for name, count in (("web", 1), ("collector", 3), ("scheduler", 2), ("worker", 3)):
        process_stack.start(name, count)
    sandbox.set_faults(latency_ms=30)
    pipeline = Pipeline(process_stack, sandbox)
    accounts = [pipeline.add_account() for _ in range(ACCOUNTS)]
    rng = random.Random(7)

    def started(count: int) -> bool:
        return all(len(recent_batches(pipeline.r, a.name, limit=50)) >= count
                   for a in accounts)

    with ThreadPoolExecutor(CLIENTS) as clients:
        for number in range(1, WAVES + 1):
            list(clients.map(pipeline.post, wave(pipeline, accounts, number, rng)))
            # The next wave lands while these batches run or wait out their interval.
            wait_until(partial(started, number), 120, f"batch {number} of every account")
    for account in accounts:
        pipeline.settle(account, timeout=180)

    distinct = {email(c) for c in range(CONTACTS)}
    for account in accounts:
        profiles = pipeline.profiles(account)  # fails on a duplicate email
        assert set(profiles) == distinct
        assert {p["first_name"] for p in profiles.values()} == {f"w{WAVES}"}
        batches = sorted(recent_batches(pipeline.r, account.name, limit=50),
                         key=lambda b: b["started_at"])
        assert all(b["status"] == "completed" for b in batches)
        for earlier, later in pairwise(batches):
            assert later["started_at"] >= earlier["completed_at"], (
                f"{account.name}: batches {earlier['batch_id']} and {later['batch_id']} ran "
                f"at the same time")
        assert len(batches) >= WAVES
    for index in range(3):
        assert process_stack.processes["collector"][index].process.poll() is None
    pipeline.close()
