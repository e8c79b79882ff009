"""The same backlog synced by 1 and then by 3 worker processes (the real ``dramatiq`` CLI
over ``workers.dramatiq_app``): both complete and are correct; the figures of each are printed
(no timing assertion: the machine is shared)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis

from cli.procfile import PROJECT_ROOT
from sandbox.inspect_client import SandboxClient
from shared import constants as keys
from tests.workers.dramatiq_harness import wait_for
from tests.workers.push_harness import PushAccount, prepare_env
from workers.push.batch import sync_batch
from workers.push.lifecycle import batch_info, start_batch
from workers.runtime.broker import setup_broker

DRAMATIQ = str(Path(sys.executable).with_name("dramatiq"))
ACCOUNTS, CONTACTS, THREADS = 12, 200, 2
LATENCY_MS = 300
"""Each Klaviyo answer takes this long (the sandbox's latency fault), as over the network."""


@contextmanager
def workers(count: int, redis_url: str, r: redis.Redis) -> Iterator[None]:
    """``count`` worker containers' worth: separate ``dramatiq`` processes, 1 process x
    :data:`THREADS` threads each, ready (heartbeating) before the clock starts."""
    r.delete(keys.dramatiq_queue("__heartbeats__"))
    started = [subprocess.Popen(
        [DRAMATIQ, "workers.dramatiq_app", "--processes", "1", "--threads", str(THREADS)],
        cwd=PROJECT_ROOT, env=dict(os.environ), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL) for _ in range(count)]
    try:
        wait_for(lambda: r.zcard(keys.dramatiq_queue("__heartbeats__")) >= count, timeout=60)
        yield
    finally:
        for process in started:
            process.send_signal(signal.SIGTERM)
        for process in started:
            try:
                process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                process.kill()


def sync_backlog(r: redis.Redis, sandbox: SandboxClient, redis_url: str,
                 worker_count: int) -> dict[str, float]:
    setup_broker(redis_url)
    accounts = [PushAccount(r, sandbox) for _ in range(ACCOUNTS)]
    for acct in accounts:
        for n in range(CONTACTS):
            acct.change(f"C{n}")
    batches = {acct.name: f"b-{uuid.uuid4().hex[:8]}" for acct in accounts}
    with workers(worker_count, redis_url, r):
        began = time.perf_counter()
        for acct in accounts:
            assert start_batch(r, acct.name, batches[acct.name], time.time()) == CONTACTS
            sync_batch.send(acct.name, batches[acct.name])
        wait_for(lambda: all(batch_info(r, name, batch).get("status") == "completed"
                             for name, batch in batches.items()), timeout=240)
        seconds = time.perf_counter() - began
    calls = 0
    for acct in accounts:
        report = batch_info(r, acct.name, batches[acct.name])["report"]
        assert report["created"] == CONTACTS, report
        profiles = acct.by_email()  # asserts no duplicate email
        assert sorted(profiles) == sorted(f"c{n}@example.com" for n in range(CONTACTS))
        calls += sum(sum(v.values()) for v in sandbox.calls(acct.key).values())
    return {"seconds": seconds, "contacts": ACCOUNTS * CONTACTS, "calls": calls}


@pytest.mark.slow
def test_the_same_backlog_syncs_completely_with_1_and_with_3_workers(
        r: redis.Redis, redis_url: str,
        sandbox: SandboxClient, monkeypatch: pytest.MonkeyPatch) -> None:
    prepare_env(monkeypatch, redis_url, sandbox.url)
    sandbox.set_faults("*", latency_ms=LATENCY_MS)
    one = sync_backlog(r, sandbox, redis_url, 1)
    three = sync_backlog(r, sandbox, redis_url, 3)
    print(f"\nbacklog: {ACCOUNTS} accounts x {CONTACTS} contacts; sandbox: no rate limits, "
          f"{LATENCY_MS} ms per answer; each worker: 1 process x {THREADS} threads")
    for label, figures in (("1 worker ", one), ("3 workers", three)):
        print(f"  {label}: {figures['seconds']:.2f} s, "
              f"{figures['contacts'] / figures['seconds']:.0f} contacts/s, "
              f"{figures['calls']:.0f} Klaviyo calls")
    print(f"  speed-up 3 vs 1: {one['seconds'] / three['seconds']:.2f}x "
          "(same machine: sandbox and workers share 2 cores)")
    assert one["contacts"] == three["contacts"]
