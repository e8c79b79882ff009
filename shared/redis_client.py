"""The Redis connection of contact-sync's own state (not the Dramatiq broker's)."""

from __future__ import annotations

from functools import lru_cache

import redis

from shared.settings import get_settings


class RedisNotConfigured(RuntimeError):
    """``REDIS_URL`` is unset in a process that cannot embed its own Redis."""


def connect(url: str) -> redis.Redis:
    """A client with decoded (str) answers and short timeouts, so a dead Redis is noticed."""
    return redis.Redis.from_url(
        url,
        decode_responses=True,
        socket_connect_timeout=2,
        socket_timeout=10,
        health_check_interval=15,
    )


@lru_cache(maxsize=1)
def get_redis() -> redis.Redis:
    """The process-wide client for ``REDIS_URL``."""
    url = get_settings().redis_url
    if not url:
        raise RedisNotConfigured(
            "REDIS_URL is not set; start through 'contact-sync run' (which embeds a Redis) "
            "or point REDIS_URL at a Redis server"
        )
    return connect(url)
