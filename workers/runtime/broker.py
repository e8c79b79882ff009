"""The Dramatiq broker of contact-sync: a Redis broker on the shared Redis (or on its own,
``SYNC_BROKER_URL=redis://...``), or RabbitMQ (``SYNC_BROKER_URL=amqp://...``).

RabbitMQ. Dramatiq's own ``RabbitmqBroker``, with the same middleware, publishing with
confirms (an enqueue returns once RabbitMQ has the message). It declares durable queues
``<q>``, ``<q>.DQ`` and ``<q>.XQ`` (dead letters, 7 days) and publishes persistent
messages; whether a queue is replicated (quorum or mirrored queues) is the operator's policy
(docs/OPERATIONS.md). RabbitMQ gives a dead worker's unacknowledged messages back to their
queue as soon as its connection drops, so the maintenance-pass bound below is the Redis
broker's only. It keeps no worker heartbeats: the workers beat into the state instead
(:mod:`workers.runtime.middleware.worker_heartbeat`).

The Redis broker:

Recovery bound. Dramatiq's Redis broker gives a dead worker's messages (those it had
fetched, running or prefetched) back to the queue during a *maintenance pass*, which runs
with probability ``maintenance_chance / 1,000,000`` inside any broker command except
ack/nack, once the dead worker's heartbeat is older than ``heartbeat_timeout``. Every
broker command refreshes the caller's heartbeat. Dramatiq's defaults (60 s, 0.1 %) can
leave a message stranded for many minutes on a quiet system. Here:

* ``heartbeat_timeout`` = 15 s. A live worker process never goes that long without a
  command: each consumer (queues ``default`` and ``default.DQ``) fetches at least once per
  ``--worker-timeout`` (1 s) while it holds fewer messages than its prefetch, and the delay
  queue's prefetch (1,000 per thread) is never reached, so a live heartbeat is <= ~1 s old.
* ``maintenance_chance`` = 25 %. A pass requeues the dead worker's messages *of the queue
  of the command it runs in*, so each queue holding some (``default``, ``default.DQ``)
  needs its own pass. One idle surviving (or restarted) worker fetches from each queue
  every 0.5-1 s (Dramatiq's jittered idle backoff), so after the 15 s the wait per queue is
  geometric: 4 commands (<= 4 s) on average, <= 27 commands (<= 27 s) with 99.95 %, i.e.
  both queues within 27 s with 99.9 %; busier workers only shorten it. (10 %, tried first,
  gives 72 s at 99.9 %.) A pass costs one ZRANGEBYSCORE while no worker is dead.

So a SIGKILLed worker's messages are back in their queues ~20 s after the kill typically,
and within :data:`RECOVERY_BOUND_S` = **45 s** (15 + 27 + a 1 s fetch) with 99.9 % --
provided one worker process is alive (restarted, or another replica).
tests/reliability/test_worker_kills.py measures it (kill -> the dead id's messages
requeued, and last kill -> batch completed; docs/RELIABILITY.md). The 15-minute cadence
never rests on delayed messages: the scheduler decides from state in Redis.

Redis outages. Dramatiq keeps a fetched message in the Redis ack set of its broker id
until it is acknowledged, and requeues such a set only once that id's heartbeat is stale.
A worker that survives a Redis outage keeps heartbeating, yet it has forgotten messages of
that set: the delayed messages it held in memory (a consumer restarted after a connection
error drops its delay queue) and messages whose retry could not be enqueued while Redis
was down (acknowledged once Redis is back). Found by tests/reliability/test_redis_restart.py:
a batch whose poll message was in flight stayed "running" forever. So
:class:`RecoveringRedisBroker` takes a new broker id on every connection error: the old id
stops heartbeating and, ``heartbeat_timeout`` plus a maintenance pass later, its messages
are requeued like a dead worker's. A message that was still in hand then runs a second
time, which the actors tolerate (batches and chunks resume from recorded progress).

Retries: an actor that raises is retried with exponential backoff (1 s .. 5 min, at most
:data:`MAX_RETRIES` times), then dead-lettered (see :mod:`shared.state.dead_letters`). Actors
re-send themselves with a delay for rate limits and job polling instead of raising, so
those waits never use up retries.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from functools import cache
from typing import Any

import dramatiq
import dramatiq.broker
import redis
from dramatiq import Message
from dramatiq.broker import Consumer
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import (
    AgeLimit,
    Callbacks,
    CurrentMessage,
    Middleware,
    Retries,
    ShutdownNotifications,
    TimeLimit,
)

from shared.broker_redis import is_rabbitmq_url
from shared.constants import DRAMATIQ_NAMESPACE
from shared.redis_client import connect
from workers.runtime.middleware import ops_middleware

HEARTBEAT_TIMEOUT_MS = 15_000
MAINTENANCE_CHANCE = 250_000
"""Out of 1,000,000 broker commands (25 %)."""
RECOVERY_BOUND_S = 45
"""Seconds from a worker's SIGKILL until its messages are back in their queues, at 99.9 %
(derived in the module docstring)."""
MAX_RETRIES = 10
MIN_BACKOFF_MS = 1_000
MAX_BACKOFF_MS = 300_000
TIME_LIMIT_MS = 10 * 60_000
"""Default per-message time limit; actors declare shorter ones."""



class RecoveringRedisBroker(RedisBroker):
    """Dramatiq's Redis broker, taking a new broker id after a connection error (see the
    module docstring: "Redis outages")."""

    def _dispatch(self, command: str) -> Callable[..., Any]:
        dispatch: Callable[..., Any] = super()._dispatch(command)  # type: ignore[no-untyped-call]

        def guarded(*args: Any) -> Any:
            try:
                return dispatch(*args)
            except (redis.ConnectionError, redis.TimeoutError):
                self.broker_id = str(uuid.uuid4())
                raise

        return guarded


_lock = threading.Lock()
_current: tuple[str, dramatiq.Broker, str] | None = None


@cache
def state_client(url: str) -> redis.Redis:
    """The process's client on the state of ``url`` (``REDIS_URL``), made once."""
    return connect(url)


def _standard_middleware() -> list[Middleware]:
    return [
        AgeLimit(),
        TimeLimit(time_limit=TIME_LIMIT_MS),
        ShutdownNotifications(),
        Callbacks(),
        Retries(max_retries=MAX_RETRIES, min_backoff=MIN_BACKOFF_MS, max_backoff=MAX_BACKOFF_MS),
        CurrentMessage(),
    ]


class NoBrokerYet(dramatiq.Broker):
    """Where actors are declared until :func:`setup_broker` runs, so that importing an actor
    module needs no Redis, no ``REDIS_URL`` and no telemetry. It connects to nothing;
    sending through it raises, naming what to do. :func:`setup_broker` moves its actors
    onto the real broker."""

    def __init__(self) -> None:
        super().__init__(middleware=_standard_middleware())  # it checks the actors' options

    def _refuse(self) -> RuntimeError:
        return RuntimeError("no Dramatiq broker is set up in this process: call "
                            "workers.runtime.broker.setup_broker(redis_url) first (the "
                            "dramatiq CLI runs workers.dramatiq_app, which does)")

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 30000) -> Consumer:
        raise self._refuse()

    def declare_queue(self, queue_name: str) -> None:
        self.queues[queue_name] = None

    def enqueue(self, message: Message[Any], *, delay: int | None = None) -> Message[Any]:
        raise self._refuse()

    def flush(self, queue_name: str) -> None:
        raise self._refuse()

    def flush_all(self) -> None:
        raise self._refuse()

    def join(self, queue_name: str, *, timeout: int | None = None) -> None:
        raise self._refuse()


def declaring_broker() -> dramatiq.Broker:
    """The broker actors are declared on when their module is imported: the one
    :func:`setup_broker` made, or else a :class:`NoBrokerYet` (never Dramatiq's default,
    which would be a broker on localhost). Called by ``workers/push/__init__.py`` and
    ``workers/reverse/__init__.py``."""
    with _lock:
        if dramatiq.broker.global_broker is None:
            dramatiq.set_broker(NoBrokerYet())
        return dramatiq.get_broker()


def current_broker() -> dramatiq.Broker | None:
    """The broker :func:`setup_broker` made in this process, if any."""
    return _current[1] if _current else None


def current_redis_url() -> str | None:
    """The Redis URL of :func:`current_broker` (the actors keep their state there too)."""
    return _current[0] if _current else None


def make_broker(redis_url: str, queues_url: str) -> dramatiq.Broker:
    """The broker of :func:`setup_broker`, not set as Dramatiq's global one (tests)."""

    def state() -> redis.Redis:
        return state_client(redis_url)

    broker: dramatiq.Broker
    if is_rabbitmq_url(queues_url):
        broker = RabbitmqBroker(url=queues_url, confirm_delivery=True,
                                middleware=_standard_middleware())
    else:
        broker = RecoveringRedisBroker(  # type: ignore[no-untyped-call]
            url=queues_url,
            namespace=DRAMATIQ_NAMESPACE,
            heartbeat_timeout=HEARTBEAT_TIMEOUT_MS,
            maintenance_chance=MAINTENANCE_CHANCE,
            middleware=_standard_middleware(),
        )
    for middleware in ops_middleware(state, rabbitmq=is_rabbitmq_url(queues_url)):
        broker.add_middleware(middleware)
    return broker


def setup_broker(redis_url: str, broker_url: str | None = None) -> dramatiq.Broker:
    """A broker on ``broker_url`` (``SYNC_BROKER_URL``; default ``redis_url``): a Redis
    broker (namespace :data:`DRAMATIQ_NAMESPACE`) or, for an ``amqp://`` URL, RabbitMQ, set
    as Dramatiq's global broker; the actors keep
    their state on ``redis_url`` (:func:`current_redis_url`, which may name a Redis
    Cluster). Calling it again with the same URLs returns the same broker;
    actors already declared (on :class:`NoBrokerYet`, or on a broker of another URL: tests,
    CLI) move to the new broker."""
    global _current
    with _lock:
        queues_url = broker_url or redis_url
        if _current is not None and _current[0] == redis_url and _current[2] == queues_url:
            return _current[1]
        broker = make_broker(redis_url, queues_url)
        previous = _current[1] if _current is not None else dramatiq.broker.global_broker
        if previous is not None:
            for name in previous.get_declared_actors():
                actor = previous.get_actor(name)
                actor.broker = broker
                broker.declare_actor(actor)
        dramatiq.set_broker(broker)
        _current = (redis_url, broker, queues_url)
        return broker
