"""The collector and the scheduler SIGKILLed and restarted, several times, while the CRM
posts changes and batches run: no change is lost and no batch runs twice.

A killed collector's unacknowledged stream entries are claimed by the restarted one (a new
consumer) after the collector's ``claim_idle`` (30 s); a killed scheduler's lock expires
after 15 s. So the time to recover is bounded by ~30 s plus one batch.
"""

from __future__ import annotations

import threading
import time

import redis

from sandbox.inspect_client import SandboxClient
from shared import constants as keys
from tests.reliability.ledger import (
    assert_batches_ran_once,
    compare,
    email_of,
    feed,
    post_all,
    report,
    seeded,
    wait_synced,
)
from tests.support.process_stack import ProcessStack, wait_until

CONTACTS = 400
POSTS = 40
KILL_ROUNDS = 3
BURST = 1000
"""Contacts posted in one request, the collector killed right after the 202."""


def _unacknowledged(r: redis.Redis) -> int:
    summary: dict[str, int] = r.xpending(keys.EVENTS_STREAM, keys.COLLECTOR_GROUP)
    return int(summary["pending"])


def test_collector_and_scheduler_killed_during_ingest_and_batches_lose_no_change(
    process_stack: ProcessStack, sandbox: SandboxClient, r: redis.Redis
) -> None:
    rand = seeded("collector-scheduler-kills")
    sandbox.set_jobs("async", 500)
    for name in ("web", "collector", "scheduler", "worker"):
        process_stack.start(name)
    events = feed("cs", CONTACTS)
    size = CONTACTS // POSTS
    failures: list[BaseException] = []

    def crm() -> None:
        try:
            for start in range(0, CONTACTS, size):
                post_all(process_stack, events[start:start + size])
                time.sleep(0.15)
        except BaseException as error:  # reported by the main thread
            failures.append(error)

    # A burst, and the collector killed while it holds read but unacknowledged entries.
    post_all(process_stack, feed("burst", BURST), size=BURST)
    process_stack.kill("collector")
    stranded = _unacknowledged(r)
    process_stack.restart("collector")

    sender = threading.Thread(target=crm, name="crm")
    sender.start()
    kills: list[str] = []
    for _ in range(KILL_ROUNDS):
        for name in ("collector", "scheduler"):
            pause = rand.uniform(0.2, 1.5)
            time.sleep(pause)
            process_stack.kill(name)
            kills.append(f"{name} +{pause:.1f} s")
            process_stack.restart(name)
    last_kill = time.monotonic()
    sender.join()
    assert not failures, failures

    expected = {email_of("cs", n): "v1" for n in range(CONTACTS)}
    expected.update({email_of("burst", n): "v1" for n in range(BURST)})
    wait_synced(sandbox, r, expected, timeout=240)
    recovered = time.monotonic() - last_kill
    outcome = compare(sandbox, expected)
    assert (outcome.lost, outcome.duplicated, outcome.stale) == (0, 0, 0)
    records = assert_batches_ran_once(r, len(expected))
    # Entries a killed collector held are claimed by a live one once idle for 30 s (the
    # collector may have applied them before it died; applying again changes nothing).
    wait_until(lambda: _unacknowledged(r) == 0, 120, "every stream entry acknowledged")
    report(f"collector SIGKILL x{KILL_ROUNDS + 1} (once holding {stranded} unacknowledged "
           f"entries), scheduler SIGKILL x{KILL_ROUNDS}, during ingest and "
           f"{len(records)} batches", len(expected), outcome.lost, outcome.duplicated,
           f"{recovered:.0f} s (last kill -> all synced)")
