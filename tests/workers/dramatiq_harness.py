"""A real Dramatiq RedisBroker and in-process Worker on the test Redis, with a test actor
whose failure is switched by a Redis flag."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import default_middleware

from shared.state.dead_letters import DeadLetters
from tests.support.process_stack import wait_until
from workers.runtime.middleware.dead_letter_notes import DeadLetterNotes
from workers.runtime.middleware.register_queues import RegisterQueues

FAIL_FLAG = "test:fail"
DONE = "test:done"


def wait_for(condition: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Poll until ``condition()`` is truthy; returns its value."""
    return wait_until(condition, timeout, "the condition")


def make_broker(redis_url: str) -> RedisBroker:
    """A RedisBroker with Dramatiq's default middleware plus the dead-letter notes and the
    queue registry (as the service's broker has)."""
    middleware = [m() for m in default_middleware] + [DeadLetterNotes(), RegisterQueues()]
    return RedisBroker(url=redis_url, middleware=middleware)


def flaky_actor(broker: dramatiq.Broker, redis_url: str,
                **options: Any) -> dramatiq.Actor[Any, Any]:
    """An actor on its own queue that raises while :data:`FAIL_FLAG` is set, and otherwise
    records its arguments in :data:`DONE`. No retries: it dead-letters on first failure."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    name = f"flaky_{uuid.uuid4().hex[:8]}"

    def flaky(account: str, batch_id: str) -> None:
        if client.get(FAIL_FLAG):
            raise RuntimeError(f"Klaviyo refused the chunk of ann@example.com in {batch_id}")
        client.rpush(DONE, f"{account}/{batch_id}")

    flaky.__name__ = name
    options.setdefault("max_retries", 0)
    return dramatiq.actor(broker=broker, actor_name=name, queue_name=name, **options)(flaky)


@contextmanager
def running_worker(broker: dramatiq.Broker) -> Iterator[dramatiq.Worker]:
    worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=100)
    worker.start()
    try:
        yield worker
    finally:
        worker.stop(timeout=10_000)


def dead_lettered(redis_url: str, *messages: tuple[str, str]) -> dramatiq.Actor[Any, Any]:
    """A new :func:`flaky_actor` whose ``messages`` (account, batch id) have all become dead
    letters; its worker is stopped, :data:`FAIL_FLAG` is left set."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    broker = make_broker(redis_url)
    actor = flaky_actor(broker, redis_url)
    client.set(FAIL_FLAG, "1")
    with running_worker(broker):
        for account, batch_id in messages:
            actor.send(account, batch_id)
        wait_for(lambda: len(DeadLetters(client).list(actor=actor.actor_name)) == len(messages))
    client.close()
    return actor
