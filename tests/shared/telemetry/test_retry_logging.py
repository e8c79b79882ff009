"""A message that keeps failing logs its traceback once, then one line per retry."""

from __future__ import annotations

import logging

import pytest
import redis

from shared.telemetry import retry_logging
from tests.workers.dramatiq_harness import (
    DONE,
    FAIL_FLAG,
    flaky_actor,
    make_broker,
    running_worker,
    wait_for,
)


def test_a_message_failing_three_times_logs_one_traceback_and_two_one_line_retries(
        r: redis.Redis, redis_url: str, caplog: pytest.LogCaptureFixture) -> None:
    retry_logging.install()
    broker = make_broker(redis_url)
    actor = flaky_actor(broker, redis_url, max_retries=5, min_backoff=10, max_backoff=20)
    r.set(FAIL_FLAG, "1")
    with caplog.at_level(logging.ERROR, logger=retry_logging.WORKER_LOGGER), \
            running_worker(broker):
        actor.send("acme", "b-1")
        wait_for(lambda: len([x for x in caplog.records
                              if x.name == retry_logging.WORKER_LOGGER]) >= 3)
        r.delete(FAIL_FLAG)
        wait_for(lambda: r.lrange(DONE, 0, -1))
    failures = [x for x in caplog.records if x.name == retry_logging.WORKER_LOGGER]
    assert [bool(x.exc_info) for x in failures[:3]] == [True, False, False]
    assert failures[1].getMessage().endswith("again (retry 1): RuntimeError")
    assert "\n" not in failures[2].getMessage()
