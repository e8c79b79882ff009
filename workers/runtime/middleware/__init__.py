"""What contact-sync adds to Dramatiq's broker, one class per module (as Dramatiq keeps its
own): queue names recorded, dead letters noted and given their meaning, the garbage
collector tuned, a RabbitMQ worker's heartbeat, and Prometheus.

Dramatiq's own Prometheus middleware (message counts, durations, in-progress, retries and
dead letters per actor, served by each worker host on ``dramatiq_prom_port``, default 9191)
is added when the ``dramatiq_prom_port`` environment variable is set -- in
docker-compose, one worker container per network namespace. It is off otherwise, so that
several workers on one machine (``contact-sync run``, tests) don't fight over the port.
"""

from __future__ import annotations

from dramatiq.middleware import Middleware

from shared.settings import get_settings
from workers.runtime.middleware.dead_letter_hooks import DeadLetterHooks
from workers.runtime.middleware.dead_letter_notes import DeadLetterNotes
from workers.runtime.middleware.register_queues import RegisterQueues
from workers.runtime.middleware.state_client import StateClient
from workers.runtime.middleware.tuned_garbage_collector import TunedGarbageCollector
from workers.runtime.middleware.worker_heartbeat import WorkerHeartbeat


def ops_middleware(state: StateClient | None = None, *,
                   rabbitmq: bool = False) -> list[Middleware]:
    """The middleware to add to the broker, in order. ``state``: a client on the state
    (default: the broker's own Redis); ``rabbitmq``: the broker keeps no worker heartbeats,
    so the workers beat into the state (needs ``state``)."""
    added: list[Middleware] = [RegisterQueues(state), DeadLetterNotes(state),
                               DeadLetterHooks(), TunedGarbageCollector()]
    if rabbitmq:
        if state is None:
            raise ValueError("a RabbitMQ broker's middleware needs the state's client")
        added.append(WorkerHeartbeat(state))
    if get_settings().worker_metrics_port is not None:
        from dramatiq.middleware.prometheus import Prometheus

        added.append(Prometheus())
    return added
