"""Regression (issue 11, item 15): a Redis outage is logged once, and its end once, by each
long-running process -- not a line (or two, with a traceback) per retry.

Collector, scheduler and a Dramatiq worker run on a real redis-server, which is killed for a
few seconds and started again on the same port and data."""

from __future__ import annotations

import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from sandbox.inspect_client import SandboxClient
from shared.redis_server import EmbeddedRedis
from tests.support.process_stack import ProcessStack, wait_until

PROCESSES = ("collector", "scheduler", "worker")
OUTAGE_S = 6.0
"""Long enough for several retries of each process (the first waits are 0.5, 1, 2, 4 s;
Dramatiq's consumers retry every 3 s)."""
RETRY_NOISE = ("Consumer encountered a connection error", "Restarting consumer",
               "Redis unavailable", "ConnectionError", "Traceback")


@pytest.fixture
def stack_on_a_restartable_redis(
    sandbox: SandboxClient, tmp_path: Path,
) -> Iterator[tuple[ProcessStack, EmbeddedRedis]]:
    assert sandbox.key is not None
    server = EmbeddedRedis(directory=tmp_path / "redis").start()
    try:
        with ProcessStack(server.url, sandbox.url, sandbox.key, tmp_path) as stack:
            yield stack, server
    finally:
        server.stop()


def test_each_process_logs_a_redis_outage_once_and_its_end_once(
    stack_on_a_restartable_redis: tuple[ProcessStack, EmbeddedRedis],
) -> None:
    stack, server = stack_on_a_restartable_redis
    for name in PROCESSES:
        stack.start(name)
    before = {name: len(stack.output(name).splitlines()) for name in PROCESSES}
    address = f"127.0.0.1:{server.port}"

    def new_lines(name: str) -> list[str]:
        return stack.output(name).splitlines()[before[name]:]

    def logged(name: str, text: str) -> bool:
        return any(text in line for line in new_lines(name))

    server.kill()
    for name in PROCESSES:
        wait_until(partial(logged, name, "is unreachable"), 60, f"{name} to log the outage")
    time.sleep(OUTAGE_S)  # the outage goes on: retries, which must not log
    server.start()
    for name in PROCESSES:
        wait_until(partial(logged, name, "is back after"), 90,
                   f"{name} to log the end of the outage")

    for name in PROCESSES:
        lines = new_lines(name)
        down = [line for line in lines if "is unreachable" in line]
        back = [line for line in lines if "is back after" in line]
        assert len(down) == 1 and len(back) == 1, "\n".join(lines)
        assert f" WARNING {name} " in down[0] and f"Redis at {address} is unreachable" in down[0]
        assert f" INFO {name} " in back[0] and f"Redis at {address} is back after" in back[0]
        noise = [line for line in lines if any(word in line for word in RETRY_NOISE)]
        assert not noise, "\n".join(noise)
