"""Where the Dramatiq queues live: ``SYNC_BROKER_URL``, by default ``REDIS_URL``.

On one Redis the queues share it with the state, as they always did. A Redis Cluster
cannot hold them: Dramatiq's Redis broker runs Lua over a queue, its delay queue, its
acknowledgement sets and its heartbeats together (keys of many slots). So when
``REDIS_URL`` names a cluster, ``SYNC_BROKER_URL`` must name a plain Redis of its own
(``redis://``, ``rediss://``); the processes say so at start-up instead of failing at the
first message. Messages carry ids only, so that Redis holds no personal data; losing it
loses queued work, never a change (the scheduler re-plans from state).

The operator's views of the queues (``/metrics``, ``status``, ``dlq``, the healthcheck's
worker heartbeat) read the broker's Redis through :func:`broker_redis`.
"""

from __future__ import annotations

from functools import lru_cache

import redis

from shared.redis_client import RedisUrlError, check_url, connect
from shared.redis_cluster import is_cluster_url
from shared.settings import Settings, get_settings


class BrokerNotConfigured(RuntimeError):
    """``REDIS_URL`` names a Redis Cluster and ``SYNC_BROKER_URL`` is unset."""


def broker_url(settings: Settings) -> str | None:
    """The URL of the Dramatiq broker: ``SYNC_BROKER_URL``, else ``REDIS_URL`` (None when
    neither is set). :class:`BrokerNotConfigured` for a cluster without a broker URL,
    :class:`RedisUrlError` for a broker URL that is not a single Redis."""
    url = settings.broker_url_set
    if url:
        if is_cluster_url(url):
            raise RedisUrlError(
                "SYNC_BROKER_URL names a Redis Cluster; the Dramatiq queues need a single "
                "Redis (redis://host:6379/0), e.g. one beside the cluster")
        check_url(url)
        return url
    if is_cluster_url(settings.redis_url):
        raise BrokerNotConfigured(
            "REDIS_URL names a Redis Cluster, which cannot hold the Dramatiq queues: set "
            "SYNC_BROKER_URL to a single Redis for them (e.g. redis://queues:6379/0); see "
            "docs/OPERATIONS.md")
    return settings.redis_url


@lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    return connect(url)


def broker_redis(state: redis.Redis) -> redis.Redis:
    """A client on the broker's Redis: ``state`` itself when the queues live there."""
    settings = get_settings()
    url = broker_url(settings)
    if not url or url == settings.redis_url:
        return state
    return _client(url)
