"""The broker after a Redis outage: a message a surviving worker had fetched, but forgot
when its connection broke, comes back (the bug tests/reliability/test_redis_restart.py
found; see workers/runtime/broker.py, "Redis outages")."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from dramatiq import Message

from shared.redis_server import EmbeddedRedis
from tests.support.process_stack import wait_until
from workers.runtime.broker import RecoveringRedisBroker


@pytest.fixture
def restartable_redis(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    with EmbeddedRedis(directory=tmp_path / "redis") as server:
        yield server


def test_a_message_fetched_before_a_redis_outage_is_delivered_again_after_it(
    restartable_redis: EmbeddedRedis,
) -> None:
    broker = RecoveringRedisBroker(  # type: ignore[no-untyped-call]
        url=restartable_redis.url, heartbeat_timeout=500, maintenance_chance=1_000_000)
    broker.declare_queue("outage")
    sent = broker.enqueue(Message(queue_name="outage", actor_name="noop", args=(), kwargs={},
                                  options={}))
    consumer = broker.consume("outage", prefetch=1, timeout=100)
    fetched = next(consumer)  # fetched, never acknowledged
    assert fetched is not None and fetched.message_id == sent.message_id
    first_id = broker.broker_id

    restartable_redis.kill()
    with pytest.raises(redis.ConnectionError):
        broker.do_qsize("outage")
    restartable_redis.start()
    assert broker.broker_id != first_id

    again = broker.consume("outage", prefetch=1, timeout=100)
    found = wait_until(lambda: next(again), 30, "the forgotten message to come back")
    assert found.message_id == sent.message_id
    broker.close()
