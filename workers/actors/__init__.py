"""The Dramatiq actors of contact-sync: ``dramatiq workers.actors`` runs all of them.

Importing this package sets up the Redis broker from ``REDIS_URL`` (required: a worker
cannot embed its own Redis), unless :func:`workers.broker.setup_broker` already ran in this
process (the scheduler, tests), then imports every actor module.
"""

from __future__ import annotations

from shared.settings import get_settings
from workers.broker import current_broker, setup_broker

if current_broker() is None:
    _url = get_settings().redis_url
    if not _url:
        raise RuntimeError(
            "REDIS_URL is not set: the workers need the shared Redis "
            "(contact-sync run sets it for its processes)"
        )
    from workers.ops_middleware import prepare_worker_telemetry

    prepare_worker_telemetry("worker")
    setup_broker(_url)

from workers.actors import batch, chunk, lists

__all__ = ["batch", "chunk", "lists"]
