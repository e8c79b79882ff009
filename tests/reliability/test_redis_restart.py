"""Redis SIGKILLed and restarted (AOF, ``appendfsync everysec``) while the CRM posts and a
batch runs: every event answered 202 before the restart is synced, the webhook answers 503
with Retry-After while Redis is down, and every process carries on by itself.

The AOF window: with ``everysec`` Redis writes each command to the AOF at once and fsyncs
the file once a second, so a *machine* crash can lose up to ~1 s (Redis documents up to
2 s when an fsync is slow) of acknowledged writes. A SIGKILL of the redis-server process
loses nothing the kernel already holds; the test still stops posting and waits
:data:`AOF_WINDOW_S` (> 2 s) after the last 202 before it kills Redis, so its claim holds
for the machine-crash case too. Events answered within that window before a power cut are
the documented exposure (docs/RELIABILITY.md).

This test runs its own redis-server in a fixed directory, restarted on the same port; the
suite's shared server is never restarted.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from sandbox.inspect_client import SandboxClient
from shared.redis_server import EmbeddedRedis
from tests.reliability.ledger import (
    ACCOUNT,
    compare,
    email_of,
    feed,
    post_all,
    report,
    wait_synced,
)
from tests.support.process_stack import ProcessStack, wait_until
from workers.push.lifecycle import running_batch

WAVE = 300
AOF_WINDOW_S = 2.5
DOWN_S = 3.0
PROCESSES = ("web", "collector", "scheduler", "worker")


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    with EmbeddedRedis(directory=tmp_path / "redis", appendfsync="everysec") as server:
        yield server


def test_a_redis_restart_during_ingest_loses_no_accepted_event(
    own_redis: EmbeddedRedis, sandbox: SandboxClient, tmp_path: Path
) -> None:
    sandbox.set_jobs("async", 5000)  # the batch is still running when Redis dies
    client = redis.Redis.from_url(own_redis.url, decode_responses=True)
    with ProcessStack(own_redis.url, sandbox.url, sandbox.key, tmp_path) as stack:
        for name in PROCESSES:
            stack.start(name)
        pids = {name: stack.pid(name) for name in PROCESSES}
        post_all(stack, feed("before", WAVE))
        wait_until(lambda: sandbox.requests(sandbox.key, "bulk_import_profiles"), 60,
                   "the first batch's import")
        time.sleep(AOF_WINDOW_S)  # the last 202 is older than the fsync window
        assert running_batch(client, ACCOUNT), "the kill should land during a batch"
        own_redis.kill()

        down = time.monotonic()
        refused = stack.post_events(feed("refused", 1))
        assert refused.status_code == 503, refused.text
        assert int(refused.headers["Retry-After"]) > 0
        assert httpx.get(f"{stack.web_url}/readyz", timeout=10).status_code == 503
        time.sleep(max(0.0, DOWN_S - (time.monotonic() - down)))

        own_redis.start()
        restarted = time.monotonic()
        after = feed("after", WAVE)
        answer = wait_until(lambda: _accepted(stack, after[:100]), 60,
                            "the webhook to accept events again")
        recovered = time.monotonic() - restarted
        assert answer.json() == {"accepted": 100}
        post_all(stack, after[100:])

        expected = {email_of("before", n): "v1" for n in range(WAVE)}
        expected.update({email_of("after", n): "v1" for n in range(WAVE)})
        wait_synced(sandbox, client, expected, timeout=240)
        synced = time.monotonic() - restarted
        outcome = compare(sandbox, expected)
        assert (outcome.lost, outcome.duplicated, outcome.stale) == (0, 0, 0)
        for name in PROCESSES:
            assert stack.processes[name][0].process.poll() is None, stack.output(name)
            assert stack.pid(name) == pids[name]
    client.close()
    report(f"Redis SIGKILL {DOWN_S:.0f} s during a batch, AOF everysec (kill > "
           f"{AOF_WINDOW_S} s after the last 202)", len(expected), outcome.lost,
           outcome.duplicated, f"{recovered:.1f} s (restart -> webhook 202); "
           f"{synced:.0f} s (restart -> all synced)")


def _accepted(stack: ProcessStack, events: list[dict[str, object]]) -> httpx.Response | None:
    answer = stack.post_events(events)
    if answer.status_code == 503:
        return None
    assert answer.status_code == 202, answer.text
    return answer
