"""Workers SIGKILLed in the middle of a batch, at seeded random points and right after
Klaviyo answered an import (before the worker could record it or acknowledge its message):
every contact ends in Klaviyo exactly once, and the batch completes.

Time to recover: from the last kill to the batch's completion. The dead worker's messages
come back only after its Dramatiq heartbeat expired and a maintenance pass ran (the bound
in workers/runtime/broker.py), so that time is what this test measures.
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
from tests.support.process_stack import HEARTBEATS, ProcessStack, wait_until
from workers.runtime.broker import HEARTBEAT_TIMEOUT_MS, RECOVERY_BOUND_S

CONTACTS = 300
RANDOM_KILLS = 2


def _imports_answered(sandbox: SandboxClient) -> int:
    return sum(1 for item in sandbox.requests(sandbox.key, "bulk_import_profiles")
               if item["status"] == 202)


def _heartbeats(r: redis.Redis) -> set[str]:
    members: list[str] = r.zrange(HEARTBEATS, 0, -1)  # type: ignore[assignment]
    return set(members)


def _kill_worker(stack: ProcessStack, r: redis.Redis, killed: dict[str, float]) -> None:
    """SIGKILL the worker; note the kill time of each broker id that was live then."""
    live = _heartbeats(r)
    stack.kill("worker")
    now = time.monotonic()
    for broker_id in live - set(killed):
        killed[broker_id] = now


def _wait_requeued(r: redis.Redis, killed: dict[str, float]) -> dict[str, float]:
    """Seconds from each kill until Dramatiq dropped the dead broker id from its heartbeats,
    which it does once a maintenance pass has requeued all of that id's messages."""
    requeued: dict[str, float] = {}

    def all_gone() -> bool:
        now = time.monotonic()
        present = _heartbeats(r)
        for broker_id, at in killed.items():
            if broker_id not in present and broker_id not in requeued:
                requeued[broker_id] = now - at
        return len(requeued) == len(killed)

    wait_until(all_gone, 180, "the killed workers' messages to be requeued")
    return requeued


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
    killed: dict[str, float] = {}
    _kill_worker(process_stack, r, killed)
    kills = ["after an import's answer"]
    process_stack.restart("worker")
    # 2. At seeded random points of the batch.
    for _ in range(RANDOM_KILLS):
        pause = rand.uniform(0.3, 4.0)
        time.sleep(pause)
        assert not settled(r), "the batch ended before a kill could land in it"
        _kill_worker(process_stack, r, killed)
        kills.append(f"random +{pause:.1f} s")
        process_stack.restart("worker")
    last_kill = time.monotonic()
    requeued = _wait_requeued(r, killed)

    expected = {email_of("wk", n): "v1" for n in range(CONTACTS)}
    wait_synced(sandbox, r, expected, timeout=240)
    recovered = time.monotonic() - last_kill
    outcome = compare(sandbox, expected)
    assert (outcome.lost, outcome.duplicated, outcome.stale) == (0, 0, 0)
    assert_batches_ran_once(r, CONTACTS)
    report(f"worker SIGKILL x{len(kills)} ({', '.join(kills)}); heartbeat "
           f"{HEARTBEAT_TIMEOUT_MS // 1000} s", CONTACTS, outcome.lost, outcome.duplicated,
           f"{recovered:.0f} s (last kill -> batch completed); requeued "
           f"{min(requeued.values()):.0f}-{max(requeued.values()):.0f} s after each kill "
           f"(bound {RECOVERY_BOUND_S} s)")
