"""Which Redis the middleware writes its own records to (queue names, dead-letter counts,
a RabbitMQ worker's heartbeat): the state's (``REDIS_URL``), given by the broker's set-up
as a function, else -- a broker on the state's own Redis, as in some tests -- the broker's
Redis client."""

from __future__ import annotations

from collections.abc import Callable

import redis
from dramatiq.broker import Broker

StateClient = Callable[[], redis.Redis]
"""Returns a client on the state (connected lazily: declaring actors needs no Redis)."""


def state_of(state: StateClient | None, broker: Broker) -> redis.Redis | None:
    """The state's client, or the broker's Redis client, or None (neither known)."""
    if state is not None:
        return state()
    client = getattr(broker, "client", None)
    return client if isinstance(client, redis.Redis) else None
