"""What operations add to a Dramatiq broker: dead-letter notes, Prometheus, Sentry, logs,
the garbage collector's settings.

For ``workers/broker.py``::

    prepare_worker_telemetry("worker")   # BEFORE creating the broker (Sentry patches it)
    broker = RedisBroker(url=redis_url, ...)
    for middleware in ops_middleware():
        broker.add_middleware(middleware)

Dramatiq's own Prometheus middleware (message counts, durations, in-progress, retries and
dead letters per actor, served by each worker host on ``dramatiq_prom_port``, default 9191)
is added when the ``dramatiq_prom_port`` environment variable is set -- in
docker-compose, one worker container per network namespace. It is off otherwise, so that
several workers on one machine (``contact-sync run``, tests) don't fight over the port.
"""

from __future__ import annotations

from dramatiq.middleware import Middleware

from shared.settings import get_settings
from shared.telemetry.logs import configure_logging
from shared.telemetry.sentry import init_sentry
from workers import retry_logging
from workers.dead_letters import DeadLetterNotes


def prepare_worker_telemetry(process_name: str = "worker") -> None:
    """Logging (text/JSON, masked) and Sentry (when ``SENTRY_DSN`` is set) for this process.
    Call before the broker is created."""
    settings = get_settings()
    configure_logging(settings, process_name)
    retry_logging.install()
    init_sentry(settings, process_name)


def ops_middleware() -> list[Middleware]:
    """The middleware to add to the broker, in order."""
    from workers.failed_batches import FailBatchOnDeadLetter
    from workers.gc_tuning import TunedGarbageCollector
    from workers.queue_registry import RegisterQueues

    added: list[Middleware] = [RegisterQueues(), DeadLetterNotes(), FailBatchOnDeadLetter(),
                               TunedGarbageCollector()]
    if get_settings().worker_metrics_port is not None:
        from dramatiq.middleware.prometheus import Prometheus

        added.append(Prometheus())
    return added
