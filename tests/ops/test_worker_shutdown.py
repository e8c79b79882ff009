"""SIGTERM on a ``dramatiq`` worker finishes the message it runs and gives back the ones it
prefetched; even a SIGKILL loses nothing (Dramatiq redelivers after the heartbeat)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis

from cli.procfile import PROJECT_ROOT
from shared import constants as keys
from tests.workers.dramatiq_harness import wait_for

DRAMATIQ = str(Path(sys.executable).with_name("dramatiq"))


@pytest.fixture
def queue() -> str:
    return f"slow_{uuid.uuid4().hex[:8]}"


def send(redis_url: str, queue: str, count: int) -> None:
    """Enqueue ``slow(0..count-1)`` through a broker of the app module (no worker here)."""
    code = ("from tests.ops.slow_actor_app import slow\n"
            f"for n in range({count}):\n    slow.send(n)\n")
    subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, check=True, timeout=60,
                   env={**os.environ, "REDIS_URL": redis_url, "SLOW_QUEUE": queue})


@contextmanager
def worker(redis_url: str, queue: str, **env: str) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        [DRAMATIQ, "tests.ops.slow_actor_app", "--processes", "1", "--threads", "1",
         "--worker-shutdown-timeout", "30000"],
        cwd=PROJECT_ROOT, start_new_session=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env={**os.environ, "REDIS_URL": redis_url, "SLOW_QUEUE": queue, **env},
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate(timeout=30)


def done(r: redis.Redis, queue: str) -> list[int]:
    return sorted(int(n) for n in r.lrange(f"{queue}:done", 0, -1))


def test_sigterm_finishes_the_running_message_and_gives_back_the_others(
        r: redis.Redis, redis_url: str, queue: str) -> None:
    send(redis_url, queue, 3)
    with worker(redis_url, queue, SLOW_SECONDS="5") as first:
        wait_for(lambda: r.get(f"{queue}:started:0"))
        first.send_signal(signal.SIGTERM)  # to the main process, as docker stop does
        assert first.wait(timeout=60) == 0
    assert done(r, queue) == [0], "the running message was finished before exiting"
    assert sorted(r.lrange(keys.dramatiq_queue(queue), 0, -1)) == sorted(
        r.hkeys(keys.dramatiq_queue_messages(queue))), "the rest is back on the queue"
    assert r.hlen(keys.dramatiq_queue_messages(queue)) == 2
    with worker(redis_url, queue, SLOW_SECONDS="0"):
        wait_for(lambda: len(done(r, queue)) == 3)
    assert done(r, queue) == [0, 1, 2], "each message ran exactly once"


def test_a_killed_worker_loses_nothing_its_messages_are_redelivered(
        r: redis.Redis, redis_url: str, queue: str) -> None:
    send(redis_url, queue, 2)
    fast_recovery = {"HEARTBEAT_MS": "1000", "MAINTENANCE_CHANCE": "1000000"}
    with worker(redis_url, queue, SLOW_SECONDS="30", **fast_recovery) as first:
        wait_for(lambda: r.get(f"{queue}:started:0"))
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
    assert done(r, queue) == []
    with worker(redis_url, queue, SLOW_SECONDS="0", **fast_recovery):
        wait_for(lambda: len(done(r, queue)) == 2, timeout=60)
    assert done(r, queue) == [0, 1]


SUPERVISOR = """
import os, sys
from pathlib import Path
from cli.procfile import LocalStack, build_manager
with LocalStack(os.environ, procfile=Path(sys.argv[1])) as stack:
    manager = build_manager(stack.processes, stack.env)
    manager.loop()
"""


def test_under_contact_sync_run_sigterm_also_lets_the_running_message_finish(
        r: redis.Redis, redis_url: str, queue: str, tmp_path: Path) -> None:
    """honcho would signal the whole process group (each Dramatiq worker process twice, which
    makes it exit at once); the supervisor of `run` signals each command only."""
    send(redis_url, queue, 2)
    procfile = tmp_path / "Procfile"
    procfile.write_text(f"worker: {DRAMATIQ} tests.ops.slow_actor_app --processes 1 "
                        "--threads 1 --worker-shutdown-timeout 30000\n")
    env = {**os.environ, "REDIS_URL": redis_url, "SLOW_QUEUE": queue, "SLOW_SECONDS": "2",
           "KLAVIYO_API_KEY": "pk_unused", "SYNC_WEBHOOK_SECRET": "unused"}
    supervisor = subprocess.Popen([sys.executable, "-c", SUPERVISOR, str(procfile)],
                                  cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: r.get(f"{queue}:started:0"))
        supervisor.send_signal(signal.SIGTERM)
        output, _ = supervisor.communicate(timeout=60)
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
    assert b"Killing worker process" not in output, output.decode()[-2000:]
    assert done(r, queue) == [0], output.decode()[-2000:]
    assert r.hlen(keys.dramatiq_queue_messages(queue)) == 1  # the other one is back
