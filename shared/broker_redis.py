"""Where the Dramatiq queues live: ``SYNC_BROKER_URL``, by default ``REDIS_URL``.

On one Redis the queues share it with the state, as they always did. A Redis Cluster
cannot hold them: Dramatiq's Redis broker runs Lua over a queue, its delay queue, its
acknowledgement sets and its heartbeats together (keys of many slots). So when
``REDIS_URL`` names a cluster, ``SYNC_BROKER_URL`` must name a broker of its own: a plain
Redis (``redis://``, ``rediss://``) or RabbitMQ (``amqp://``, ``amqps://``: Dramatiq's own
``RabbitmqBroker``); the processes say so at start-up instead of failing at the first
message. Messages carry ids only, so the broker holds no personal data; losing it loses
queued work, never a change (the scheduler re-plans from state).

The operator's views of the queues (``/metrics``, ``status``, ``dlq``, the healthcheck's
worker heartbeat) read the broker's Redis through :func:`broker_redis`; on RabbitMQ there is
none (``None``): queue depths come from RabbitMQ itself
(:mod:`shared.telemetry.rabbitmq_stats`), the workers' heartbeats from the state
(:mod:`shared.state.heartbeats`), and ``dlq`` says it is not available there yet.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import unquote, urlsplit

import redis

from shared.redis_client import RedisUrlError, check_url, connect
from shared.redis_cluster import is_cluster_url
from shared.settings import Settings, get_settings

RABBITMQ_SCHEMES = ("amqp://", "amqps://")
NOT_ON_RABBITMQ = ("not available with a RabbitMQ broker yet (SYNC_BROKER_URL is amqp://); "
                   "the dead-letter counts are in 'contact-sync status' and /metrics, the "
                   "letters themselves in RabbitMQ's '<queue>.XQ' queues (docs/OPERATIONS.md)")
"""What the dead-letter tools answer on RabbitMQ."""
_CREDENTIALS = re.compile(r"://[^/;]*@")


class BrokerNotConfigured(RuntimeError):
    """``REDIS_URL`` names a Redis Cluster and ``SYNC_BROKER_URL`` is unset."""


def is_rabbitmq_url(url: str | None) -> bool:
    """Whether ``url`` names a RabbitMQ broker (``amqp://``, ``amqps://``)."""
    return bool(url) and str(url).lower().startswith(RABBITMQ_SCHEMES)


def redacted(url: str) -> str:
    """``url`` with its users and passwords left out (``amqp://***@host:5672/vhost``; each
    of several ``;``-separated node URLs)."""
    return _CREDENTIALS.sub("://***@", url)


def url_passwords(url: str | None) -> list[str]:
    """The passwords a URL (or ``;``-separated URLs) carries, to be masked in logs."""
    found = []
    for part in (url or "").split(";"):
        try:
            password = urlsplit(part.strip()).password
        except ValueError:
            continue
        if password:
            found.append(unquote(password))
    return found


def broker_url(settings: Settings) -> str | None:
    """The URL of the Dramatiq broker: ``SYNC_BROKER_URL``, else ``REDIS_URL`` (None when
    neither is set). :class:`BrokerNotConfigured` for a cluster without a broker URL,
    :class:`RedisUrlError` for a broker URL that is neither a single Redis nor RabbitMQ."""
    url = settings.broker_url_set
    if url:
        if is_rabbitmq_url(url):
            return url
        if is_cluster_url(url):
            raise RedisUrlError(
                "SYNC_BROKER_URL names a Redis Cluster; the Dramatiq queues need a single "
                "Redis (redis://host:6379/0), e.g. one beside the cluster, or RabbitMQ "
                "(amqp://user:password@host:5672/vhost)")
        check_url(url)
        return url
    if is_cluster_url(settings.redis_url):
        raise BrokerNotConfigured(
            "REDIS_URL names a Redis Cluster, which cannot hold the Dramatiq queues: set "
            "SYNC_BROKER_URL to a single Redis for them (e.g. redis://queues:6379/0) or to "
            "RabbitMQ (amqp://user:password@host:5672/vhost); see docs/OPERATIONS.md")
    return settings.redis_url


def rabbitmq_url() -> str | None:
    """The RabbitMQ URL of the broker, when the broker is RabbitMQ."""
    url = broker_url(get_settings())
    return url if is_rabbitmq_url(url) else None


@lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    return connect(url)


def broker_redis(state: redis.Redis) -> redis.Redis | None:
    """A client on the broker's Redis: ``state`` itself when the queues live there; None
    when the broker is RabbitMQ."""
    settings = get_settings()
    url = broker_url(settings)
    if is_rabbitmq_url(url):
        return None
    if not url or url == settings.redis_url:
        return state
    return _client(url)
