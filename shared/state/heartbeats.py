"""Which processes are alive, for ``contact-sync status``: each long-running process beats
into one sorted set (member ``<kind>:<host>:<pid>``, score = the time of its last beat);
workers are read from the Dramatiq Redis broker's own heartbeats, or, on RabbitMQ (which
keeps none), beat into the same set (kind ``worker``,
:mod:`workers.runtime.middleware.worker_heartbeat`). A process that has not beaten
for :data:`ALIVE_S` counts as gone; beats older than an hour are pruned as new ones come.
"""

from __future__ import annotations

import os
import socket
import time

import redis

from shared import constants as keys
from shared.broker_redis import broker_redis
from shared.redis_text import as_text

ALIVE_S = 30.0
"""A process that beat within this many seconds is alive."""
BEAT_EVERY_S = 5.0
"""How often a process beats (at most)."""
KINDS = ("web", "collector", "scheduler")
PRUNE_AFTER_S = 3600.0


class Heart:
    """One process's heartbeat: call :meth:`beat` often; it writes at most every
    :data:`BEAT_EVERY_S`."""

    def __init__(self, client: redis.Redis, kind: str) -> None:
        self.client = client
        self.member = f"{kind}:{socket.gethostname()}:{os.getpid()}"
        self._last = 0.0

    def beat(self, now: float | None = None) -> None:
        now = time.time() if now is None else now
        if now - self._last < BEAT_EVERY_S:
            return
        pipe = self.client.pipeline(transaction=False)
        pipe.zadd(keys.HEARTBEATS, {self.member: now})
        pipe.zremrangebyscore(keys.HEARTBEATS, "-inf", now - PRUNE_AFTER_S)
        pipe.execute()
        self._last = now

    def stop(self) -> None:
        """The process stops: it is gone at once, not after :data:`ALIVE_S`."""
        self.client.zrem(keys.HEARTBEATS, self.member)


def alive(client: redis.Redis, now: float | None = None) -> dict[str, int]:
    """How many processes of each kind beat within :data:`ALIVE_S`; ``worker``: Dramatiq's
    own heartbeats on the broker's Redis (:func:`shared.broker_redis.broker_redis`), or on
    RabbitMQ the workers' beats in the state's set."""
    now = time.time() if now is None else now
    broker = broker_redis(client)
    members = client.zrangebyscore(keys.HEARTBEATS, now - ALIVE_S, "+inf")
    counts: dict[str, int] = dict.fromkeys((*KINDS, "worker"), 0)
    for member in members:
        kind = as_text(member).split(":", 1)[0]
        counts[kind] = counts.get(kind, 0) + 1
    if broker is not None:
        counts["worker"] += int(broker.zcount(keys.dramatiq_heartbeats(),
                                              (now - ALIVE_S) * 1000, "+inf"))
    return counts


def beating(client: redis.Redis, now: float | None = None) -> list[tuple[str, str, float]]:
    """Each process that beat within :data:`ALIVE_S`: ``(kind, host:pid, seconds since its
    last beat)``, by kind then name (one read of a set that holds a few dozen members)."""
    now = time.time() if now is None else now
    found: list[tuple[bytes | str, float]] = client.zrangebyscore(  # type: ignore[assignment]
        keys.HEARTBEATS, now - ALIVE_S, "+inf", withscores=True)
    rows = []
    for member, at in found:
        kind, _, where = as_text(member).partition(":")
        rows.append((kind, where, max(0.0, now - float(at))))
    return sorted(rows)
