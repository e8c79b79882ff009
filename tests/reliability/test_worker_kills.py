"""Workers SIGKILLed in the middle of a batch, at seeded random points and right after
Klaviyo answered an import (before the worker could record it or acknowledge its message):
every contact ends in Klaviyo exactly once, and the batch completes.

Time to recover: from the last kill to the batch's completion. The dead worker's messages
come back only after its Dramatiq heartbeat expired and a maintenance pass ran (the bound
in workers/broker.py), so that time is what this test measures.
"""

from __future__ import annotations

import time

import redis

from sandbox.inspect_client import SandboxClient
from tests.reliability.ledger import (
    assert_batches_ran_once,
    compare,
    email_of,
    feed,
    post_all,
    report,
    seeded,
    settled,
    wait_synced,
)
from tests.support.process_stack import ProcessStack, wait_until
from workers.broker import HEARTBEAT_TIMEOUT_MS

CONTACTS = 300
RANDOM_KILLS = 2


def _imports_answered(sandbox: SandboxClient) -> int:
    return sum(1 for item in sandbox.requests(sandbox.key, "bulk_import_profiles")
               if item["status"] == 202)


def test_workers_killed_during_a_batch_lose_and_duplicate_nothing(
    process_stack: ProcessStack, sandbox: SandboxClient, r: redis.Redis
) -> None:
    rand = seeded("worker-kills")
    process_stack.env.update({"SYNC_CHUNK_MAX_PROFILES": "25"})
    sandbox.set_jobs("async", 1500)  # a job stays in flight while the worker polls it
    sandbox.set_faults("bulk_import_profiles", latency_ms=300)
    for name in ("web", "collector", "scheduler", "worker"):
        process_stack.start(name)
    post_all(process_stack, feed("wk", CONTACTS))

    # 1. Right after Klaviyo answered an import: the worker has not recorded the job id yet
    #    (or has, but not acknowledged its message).
    wait_until(lambda: _imports_answered(sandbox) >= 1, 120, "the batch's first import")
    before = _imports_answered(sandbox)
    wait_until(lambda: _imports_answered(sandbox) > before, 60, "another import answered")
    assert not settled(r), "the batch ended before the first kill"
    process_stack.kill("worker")
    kills = ["after an import's answer"]
    process_stack.restart("worker")
    # 2. At seeded random points of the batch.
    for _ in range(RANDOM_KILLS):
        pause = rand.uniform(0.3, 4.0)
        time.sleep(pause)
        assert not settled(r), "the batch ended before a kill could land in it"
        process_stack.kill("worker")
        kills.append(f"random +{pause:.1f} s")
        process_stack.restart("worker")
    last_kill = time.monotonic()

    expected = {email_of("wk", n): "v1" for n in range(CONTACTS)}
    wait_synced(sandbox, r, expected, timeout=240)
    recovered = time.monotonic() - last_kill
    outcome = compare(sandbox, expected)
    assert (outcome.lost, outcome.duplicated, outcome.stale) == (0, 0, 0)
    assert_batches_ran_once(r, CONTACTS)
    report(f"worker SIGKILL x{len(kills)} ({', '.join(kills)}); heartbeat "
           f"{HEARTBEAT_TIMEOUT_MS // 1000} s", CONTACTS, outcome.lost, outcome.duplicated,
           f"{recovered:.0f} s (last kill -> batch completed)")
