"""Klaviyo failing: 30 % 429 (Retry-After 1 s), 10 % 5xx, 5 % dropped connections on every
operation, a phase in which every import answers only after the client's read timeout
(the import still happens: the retry must not create a second profile), and one in which
every import's connection is dropped (so that drops are certain, not left to a 5 % draw
over a few dozen calls). Everything is synced, nothing twice, and no request for an
operation came before the Retry-After of that operation's last 429 had passed (read from
the sandbox's request log).

The worker runs one thread here, so Klaviyo never has two requests of the account in flight
at once: a request sent by another thread *before* a 429 reached us cannot be told apart,
in the sandbox's log, from one that ignored the Retry-After (the shared limiter of
shared/klaviyo/rate_limiter.py blocks every worker only once the 429 has arrived). A 429
answered after the client's read timeout was never seen by it and blocks nothing.
"""

from __future__ import annotations

from typing import Any

import redis

from sandbox.inspect_client import SandboxClient
from tests.reliability.ledger import (
    compare,
    email_of,
    feed,
    post_all,
    report,
    wait_synced,
)
from tests.support.process_stack import ProcessStack, wait_until

CONTACTS = 200
READ_TIMEOUT_S = 1.0
MIX: dict[str, Any] = {"status_429": 0.3, "status_500": 0.05, "status_503": 0.05,
                       "drop": 0.05, "retry_after": 1}


def too_early(log: list[dict[str, Any]]) -> list[tuple[str, float]]:
    """Requests that arrived after a 429 for the same operation was answered, before its
    Retry-After had passed: (operation, seconds early)."""
    blocked_until: dict[str, float] = {}
    early: list[tuple[str, float]] = []
    for item in sorted(log, key=lambda i: i["arrived"]):
        until = blocked_until.get(item["operation"], 0.0)
        if item["arrived"] < until:
            early.append((item["operation"], round(until - item["arrived"], 3)))
        seen = item["answered"] - item["arrived"] < READ_TIMEOUT_S
        if item["status"] == 429 and item["retry_after"] and seen:
            blocked_until[item["operation"]] = max(until, item["answered"] + item["retry_after"])
    return early


def _timed_out(sandbox: SandboxClient) -> int:
    return sum(1 for item in sandbox.requests(sandbox.key, "bulk_import_profiles")
               if item["answered"] - item["arrived"] > READ_TIMEOUT_S and item["status"] == 202)


def _dropped(sandbox: SandboxClient) -> int:
    return sum(1 for item in sandbox.requests(sandbox.key, "bulk_import_profiles")
               if item["status"] == 0)


def test_klaviyo_faults_lose_and_duplicate_nothing_and_429s_are_waited_out(
    process_stack: ProcessStack, sandbox: SandboxClient, r: redis.Redis
) -> None:
    process_stack.env.update({"SYNC_KLAVIYO_READ_TIMEOUT": str(READ_TIMEOUT_S),
                              "SYNC_CHUNK_MAX_PROFILES": "50", "WORKER_THREADS": "1"})
    sandbox.set_jobs("async", 300)
    sandbox.set_faults("*", **MIX)
    sandbox.set_faults("bulk_import_profiles", latency_ms=1500)  # answered after the timeout
    for name in ("web", "collector", "scheduler", "worker"):
        process_stack.start(name)
    post_all(process_stack, feed("kf", CONTACTS // 2))
    wait_until(lambda: _timed_out(sandbox) >= 2, 120, "two imports past the read timeout")
    sandbox.set_faults("bulk_import_profiles", drop=1.0)
    post_all(process_stack, feed("kf", CONTACTS // 2, first=CONTACTS // 2))
    wait_until(lambda: _dropped(sandbox) >= 2, 120, "two imports dropped")
    sandbox.set_faults("bulk_import_profiles", **MIX)

    expected = {email_of("kf", n): "v1" for n in range(CONTACTS)}
    took = wait_synced(sandbox, r, expected, timeout=240)
    outcome = compare(sandbox, expected)
    assert (outcome.lost, outcome.duplicated, outcome.stale) == (0, 0, 0)

    log = sandbox.requests(sandbox.key)
    statuses: dict[int, int] = {}
    for item in log:
        statuses[item["status"]] = statuses.get(item["status"], 0) + 1
    early = too_early(log)
    assert statuses.get(429, 0) > 0 and statuses.get(0, 0) > 0, statuses
    assert early == [], f"requests before Retry-After passed: {early}"
    report(f"Klaviyo 30 % 429, 10 % 5xx, 5 % dropped, {_timed_out(sandbox)} import timeouts, "
           f"{_dropped(sandbox)} imports dropped "
           f"({len(log)} calls: {statuses})", CONTACTS, outcome.lost, outcome.duplicated,
           f"{took:.0f} s to sync all (no process restarted)")
