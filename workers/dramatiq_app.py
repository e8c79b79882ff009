"""The entry module of the ``dramatiq`` CLI: ``dramatiq workers.dramatiq_app`` runs every
actor of contact-sync (Procfile, docker-compose.yml, ``contact-sync run``).

It is the one module whose import sets up a broker: the worker's logging and Sentry
first (Sentry patches the broker), then the Redis broker on ``SYNC_BROKER_URL``, by
default ``REDIS_URL`` (required: a worker cannot embed its own Redis; unset or not
answering: one line and exit 2; the state stays on ``REDIS_URL``), then every actor
module. When
:func:`workers.broker.setup_broker` already ran in this process (tests, benchmarks), that
broker is kept. Everything else imports the actor modules freely: they are declared on a
placeholder that connects to nothing until ``setup_broker`` runs (see
:func:`workers.broker.declaring_broker`).
"""

from __future__ import annotations

import sys
from typing import NoReturn

import redis

from shared.broker_redis import BrokerNotConfigured, broker_url
from shared.redis_client import RedisUrlError, connect, describe_redis_error
from shared.settings import get_settings
from workers.broker import current_broker, setup_broker
from workers.ops_middleware import prepare_worker_telemetry


def _refuse(message: str) -> NoReturn:
    """One line and exit code 2, as every other process of the Procfile (not a traceback,
    nor a broker retrying a Redis that is not there forever)."""
    sys.stderr.write(f"Error: {message}\n")
    sys.stderr.flush()
    raise SystemExit(2)


if current_broker() is None:
    _url = get_settings().redis_url
    if not _url:
        _refuse("REDIS_URL is not set: the workers need the shared Redis, e.g. "
                "redis://localhost:6379/0 ('contact-sync run' sets it for its processes)")
    try:
        connect(_url).ping()
    except (redis.RedisError, RedisUrlError) as _error:
        _refuse(describe_redis_error(_error, _url))
    try:
        _queues = broker_url(get_settings())
    except (BrokerNotConfigured, RedisUrlError) as _error:
        _refuse(str(_error))
    prepare_worker_telemetry("worker")
    setup_broker(_url, _queues)

# After the broker, on purpose (the actors then declare straight onto it).
from workers.actors import batch, chunk, lists  # noqa: E402

__all__ = ["batch", "chunk", "lists"]
