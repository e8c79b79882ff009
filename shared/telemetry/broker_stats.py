"""What the Dramatiq Redis broker (and the events stream) hold now, read from their keys.

Shared by the metrics collector (``/metrics``) and ``contact-sync status``. Per queue:
``messages`` waiting or being processed (``<ns>:<q>.msgs``), ``delayed`` (retries and
delayed sends, ``<ns>:<q>.DQ.msgs``) and ``dead`` letters (``<ns>:<q>.XQ``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis

from shared import constants as keys
from shared import ingest_shards
from shared.redis_text import as_text

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


def queue_names(client: redis.Redis, namespace: str = keys.DRAMATIQ_NAMESPACE) -> list[str]:
    """Every Dramatiq queue some process declared (:mod:`workers.queue_registry`), and
    ``default``; read from one set, never by scanning keys."""
    declared: set[Any] = client.smembers(keys.QUEUES)  # type: ignore[assignment]
    names = {as_text(name) for name in declared} | {DEFAULT_QUEUE}
    return sorted(name[: -len(DELAY_SUFFIX)] if name.endswith(DELAY_SUFFIX) else name
                  for name in names)


def queue_depths(
    client: redis.Redis, namespace: str = keys.DRAMATIQ_NAMESPACE
) -> list[QueueDepth]:
    """Depth of every queue, by name."""
    names = queue_names(client, namespace)
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
