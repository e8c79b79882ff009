"""The entry module of the ``dramatiq`` CLI: ``dramatiq workers.dramatiq_app`` runs every
actor of contact-sync (Procfile, docker-compose.yml, ``contact-sync run``).

It is the one module whose import sets up a broker: the worker's logging and Sentry
first (Sentry patches the broker), then the Redis broker on ``SYNC_BROKER_URL``, by
default ``REDIS_URL`` (required: a worker cannot embed its own Redis; the state stays on
``REDIS_URL``), then every actor module. When
:func:`workers.broker.setup_broker` already ran in this process (tests, benchmarks), that
broker is kept. Everything else imports the actor modules freely: they are declared on a
placeholder that connects to nothing until ``setup_broker`` runs (see
:func:`workers.broker.declaring_broker`).
"""

from __future__ import annotations

from shared.broker_redis import broker_url
from shared.settings import get_settings
from workers.broker import current_broker, setup_broker
from workers.ops_middleware import prepare_worker_telemetry

if current_broker() is None:
    _url = get_settings().redis_url
    if not _url:
        raise RuntimeError(
            "REDIS_URL is not set: the workers need the shared Redis "
            "(contact-sync run sets it for its processes)"
        )
    prepare_worker_telemetry("worker")
    setup_broker(_url, broker_url(get_settings()))

# After the broker, on purpose (the actors then declare straight onto it).
from workers.actors import batch, chunk, lists

__all__ = ["batch", "chunk", "lists"]
