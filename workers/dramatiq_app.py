"""The entry module of the ``dramatiq`` CLI: ``dramatiq workers.dramatiq_app`` runs every
actor of contact-sync (Procfile, docker-compose.yml, ``contact-sync run``).

It is the one module whose import sets up a broker: the worker's logging and Sentry
first (Sentry patches the broker), then the Redis broker on ``REDIS_URL`` (required: a
worker cannot embed its own Redis), then every actor module. When
:func:`workers.runtime.broker.setup_broker` already ran in this process (tests, benchmarks), that
broker is kept. Everything else imports the actor modules freely: they are declared on a
placeholder that connects to nothing until ``setup_broker`` runs (see
:func:`workers.runtime.broker.declaring_broker`).
"""

from __future__ import annotations

from shared.settings import get_settings
from shared.telemetry.startup import start_process
from workers.runtime.broker import current_broker, setup_broker

if current_broker() is None:
    _url = get_settings().redis_url
    if not _url:
        raise RuntimeError(
            "REDIS_URL is not set: the workers need the shared Redis "
            "(contact-sync run sets it for its processes)"
        )
    start_process(get_settings(), "worker")  # before the broker: Sentry patches it
    setup_broker(_url)

# After the broker, on purpose (the actors then declare straight onto it).
from workers.push import batch
from workers.push.deliver import chunk
from workers.reverse import actors, crm_delivery

__all__ = ["actors", "batch", "chunk", "crm_delivery"]
