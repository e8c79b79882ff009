"""Record the name of every Dramatiq queue a process declares in :data:`QUEUES`.

``/metrics``, ``status`` and ``dlq`` read queue depths per queue; knowing the names from
this set spares them a scan of the whole keyspace (O(keys), seconds at a million contacts),
and on RabbitMQ it is how they know which queues to ask about. The set lives in the state
(``REDIS_URL``), whichever the broker.
"""

from __future__ import annotations

from typing import Any

from dramatiq.broker import Broker
from dramatiq.middleware import Middleware

from shared.constants import QUEUES
from workers.runtime.middleware.state_client import StateClient, state_of


class RegisterQueues(Middleware):
    """See the module docstring (one SADD per queue and process start). ``state``: the
    state's client; default: the broker's own Redis (one Redis for both)."""

    def __init__(self, state: StateClient | None = None) -> None:
        self.state = state

    def after_declare_queue(self, broker: Broker, queue_name: str) -> None:
        client: Any = state_of(self.state, broker)
        if client is not None:
            client.sadd(QUEUES, queue_name)
