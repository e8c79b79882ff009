"""What the Dramatiq broker's queues (and the events stream) hold now.

Shared by the metrics collector (``/metrics``), ``contact-sync status`` and the console.
Per queue: ``messages`` waiting or being processed, ``delayed`` (retries and delayed sends)
and ``dead`` letters. On a broker Redis they are read from Dramatiq's keys
(``<ns>:<q>.msgs``, ``<ns>:<q>.DQ.msgs``, ``<ns>:<q>.XQ``); on RabbitMQ from its queues
``<q>``, ``<q>.DQ`` and ``<q>.XQ`` (:mod:`shared.telemetry.rabbitmq_stats`, which counts
only the messages no worker holds). The queue names come from the state
(:mod:`workers.runtime.middleware.register_queues`), whichever the broker.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis

from shared import constants as keys
from shared import ingest_shards
from shared.broker_redis import broker_redis, rabbitmq_url
from shared.redis_text import as_text
from shared.telemetry.rabbitmq_stats import rabbitmq_counts

DELAY_SUFFIX = ".DQ"
MSGS_SUFFIX = ".msgs"
DEAD_SUFFIX = ".XQ"


@dataclass(frozen=True)
class QueueDepth:
    queue: str
    messages: int
    delayed: int
    dead: int

    def as_dict(self) -> dict[str, int | str]:
        return {"queue": self.queue, "messages": self.messages, "delayed": self.delayed,
                "dead": self.dead}


DEFAULT_QUEUE = "default"


def queue_names(state: redis.Redis) -> list[str]:
    """Every Dramatiq queue some process declared
    (:mod:`workers.runtime.middleware.register_queues`), and ``default``; read from one set
    of the state, never by scanning keys."""
    declared: set[Any] = state.smembers(keys.QUEUES)
    names = {as_text(name) for name in declared} | {DEFAULT_QUEUE}
    return sorted({name[: -len(DELAY_SUFFIX)] if name.endswith(DELAY_SUFFIX) else name
                   for name in names})


def queue_depths(state: redis.Redis) -> list[QueueDepth]:
    """Depth of every queue, by name, on the broker of this configuration
    (``SYNC_BROKER_URL``, else the state's own Redis)."""
    names = queue_names(state)
    amqp = rabbitmq_url()
    if amqp:
        counts = rabbitmq_counts(amqp, [name + suffix for name in names
                                        for suffix in ("", DELAY_SUFFIX, DEAD_SUFFIX)])
        return [QueueDepth(name, counts[name], counts[name + DELAY_SUFFIX],
                           counts[name + DEAD_SUFFIX]) for name in names]
    broker = broker_redis(state)
    assert broker is not None  # not RabbitMQ
    return redis_queue_depths(broker, names)


def redis_queue_depths(client: redis.Redis, names: list[str],
                       namespace: str = keys.DRAMATIQ_NAMESPACE) -> list[QueueDepth]:
    """Depth of each named queue on a broker Redis."""
    pipe = client.pipeline(transaction=False)
    for name in names:
        pipe.hlen(keys.dramatiq_queue_messages(name, namespace))
        pipe.hlen(keys.dramatiq_queue_messages(name + DELAY_SUFFIX, namespace))
        pipe.zcard(keys.dramatiq_dead(name, namespace))
    counts = pipe.execute()
    return [
        QueueDepth(name, int(counts[3 * i]), int(counts[3 * i + 1]), int(counts[3 * i + 2]))
        for i, name in enumerate(names)
    ]


def events_backlog(client: redis.Redis) -> int:
    """Events not yet read by the collectors plus those read but not acknowledged, over
    every ingest stream (shared/ingest_shards.py)."""
    return sum(_stream_backlog(client, stream) for stream in ingest_shards.streams())


def _stream_backlog(client: redis.Redis, stream: str) -> int:
    try:
        groups = client.xinfo_groups(stream)
    except redis.ResponseError:  # no stream yet
        return 0
    for group in groups:
        if as_text(group.get("name", "")) == keys.COLLECTOR_GROUP:
            lag = group.get("lag")
            return int(lag or 0) + int(group.get("pending") or 0)
    return int(client.xlen(stream))
