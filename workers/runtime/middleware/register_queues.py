"""Record the name of every Dramatiq queue a process declares in :data:`QUEUES`.

``/metrics``, ``status`` and ``dlq`` read queue depths per queue; knowing the names from
this set spares them a scan of the whole keyspace (O(keys), seconds at a million contacts).
"""

from __future__ import annotations

from typing import Any

from dramatiq.broker import Broker
from dramatiq.middleware import Middleware

from shared.constants import QUEUES


class RegisterQueues(Middleware):
    """See the module docstring (one SADD per queue and process start)."""

    def after_declare_queue(self, broker: Broker, queue_name: str) -> None:
        client: Any = getattr(broker, "client", None)
        if client is not None:
            client.sadd(QUEUES, queue_name)
