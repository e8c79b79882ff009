"""What contact-sync adds to Dramatiq's broker, one class per module (as Dramatiq keeps its
own): queue names recorded, dead letters noted and given their meaning, the garbage
collector tuned, and Prometheus.

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
from workers.runtime.middleware.tuned_garbage_collector import TunedGarbageCollector


def ops_middleware() -> list[Middleware]:
    """The middleware to add to the broker, in order."""
    added: list[Middleware] = [RegisterQueues(), DeadLetterNotes(), DeadLetterHooks(),
                               TunedGarbageCollector()]
    if get_settings().worker_metrics_port is not None:
        from dramatiq.middleware.prometheus import Prometheus

        added.append(Prometheus())
    return added
