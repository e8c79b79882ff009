"""The Redis connection of contact-sync's own state (not the Dramatiq broker's), and the one
line an operator reads when ``REDIS_URL`` is wrong or its Redis is not answering.

:func:`describe_redis_error` names the host and port (never the password) and tells apart
a URL that cannot be used (:class:`RedisUrlError`), a Redis that cannot be reached, one that
refuses the credentials and one that answers with an error (``redis://host:6379/99``: the
database index is out of range). :class:`RedisOutage` is how a long-running process logs
an outage: once when it starts, once when it ends, with growing waits in between.
"""

from __future__ import annotations

import logging
import threading
import time
from functools import lru_cache

import redis
from redis.connection import parse_url

from shared.redis_cluster import (
    EXAMPLE_CLUSTER_URL,
    ClusterUrlError,
    cluster_options,
    connect_cluster,
    first_node,
    is_cluster,
    is_cluster_url,
)
from shared.settings import get_settings

SCHEMES = ("redis://", "rediss://", "unix://")
EXAMPLE_URL = "redis://localhost:6379/0"


class RedisNotConfigured(RuntimeError):
    """``REDIS_URL`` is unset in a process that cannot embed its own Redis."""


class RedisUrlError(ValueError):
    """``REDIS_URL`` cannot be used as written; the message says why and how to write it."""


def _redacted(url: str) -> str:
    """``url`` without what stands before an ``@`` (user and password)."""
    scheme, sep, rest = url.rpartition("://")
    if "@" in rest:
        rest = "***@" + rest.rpartition("@")[2]
    return f"{scheme}{sep}{rest}"


def check_url(url: str) -> dict[str, object]:
    """The parts of a usable Redis URL (host, port, db...); :class:`RedisUrlError` else.
    A cluster URL (:mod:`shared.redis_cluster`) gives its startup nodes and options."""
    if is_cluster_url(url):
        try:
            return cluster_options(url)
        except ClusterUrlError as error:
            raise RedisUrlError(str(error)) from None
    if not url.startswith(SCHEMES):
        raise RedisUrlError(
            f"REDIS_URL {_redacted(url)!r} has no redis:// scheme; write it as a URL, "
            f"e.g. {EXAMPLE_URL} (rediss:// for TLS, unix:///path/redis.sock for a socket, "
            f"{EXAMPLE_CLUSTER_URL} for a Redis Cluster)"
        )
    try:
        return dict(parse_url(url))  # type: ignore[no-untyped-call]
    except ValueError as error:
        raise RedisUrlError(
            f"REDIS_URL {_redacted(url)!r} is not a valid Redis URL ({error}); "
            f"e.g. {EXAMPLE_URL}"
        ) from None


def redis_address(url: str) -> str:
    """``host:port`` (or the socket path) of ``url``, never its password."""
    try:
        parts = check_url(url)
    except RedisUrlError:
        return _redacted(url)
    if is_cluster_url(url):
        return f"cluster {first_node(url)}"
    if parts.get("path"):
        return str(parts["path"])
    return f"{parts.get('host', 'localhost')}:{parts.get('port', 6379)}"


def _reason(error: Exception | str) -> str:
    """redis-py's ``Error 111 connecting to h:1. Connection refused.`` -> the last part."""
    text = str(error).strip().rstrip(".")
    if "connecting to" in text and ". " in text:
        text = text.rsplit(". ", 1)[1]
    if isinstance(error, redis.TimeoutError) and "timed out" not in text.lower():
        text = f"timed out: {text}" if text else "timed out"
    if not text and isinstance(error, Exception):
        return type(error).__name__
    return text


def describe_redis_error(error: Exception, url: str | None) -> str:
    """One line saying what is wrong with the Redis of ``url`` (no traceback, no password)."""
    if isinstance(error, RedisUrlError):
        return str(error)
    where = f"Redis at {redis_address(url)}" if url else "Redis"
    if isinstance(error, redis.AuthenticationError):
        return f"{where} refused the credentials in REDIS_URL ({_reason(error)})"
    if isinstance(error, redis.ResponseError):
        text = str(error)
        if "DB index is out of range" in text and url:
            db = check_url(url).get("db", 0)
            return (f"{where} answered an error: {text} (database {db} of REDIS_URL does "
                    "not exist on that server; use 0, or raise its 'databases' setting)")
        return f"{where} answered an error: {text}"
    if isinstance(error, redis.ConnectionError | redis.TimeoutError):
        return f"{where} is unreachable ({_reason(error)}); is redis-server running there?"
    if isinstance(error, redis.RedisError):
        return f"{where} failed: {type(error).__name__}: {_reason(error)}"
    return f"{where} failed: {type(error).__name__}"


def connect(url: str) -> redis.Redis:
    """A client with decoded (str) answers and short timeouts, so a dead Redis is noticed.
    :class:`RedisUrlError` when ``url`` cannot be used."""
    check_url(url)
    if is_cluster_url(url):
        return connect_cluster(url)
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


def client_address(client: redis.Redis) -> str:
    """``host:port`` (or the socket path) a client connects to, never its password."""
    if is_cluster(client):
        node = client.get_default_node()  # type: ignore[attr-defined]
        return f"cluster {node.host}:{node.port}"
    kwargs = client.connection_pool.connection_kwargs
    if kwargs.get("path"):
        return str(kwargs["path"])
    return f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}"


class RedisOutage:
    """A Redis outage as a long-running process logs it: one warning when Redis stops
    answering, one info line when it answers again, nothing in between; and the wait before the
    next attempt, growing from :attr:`first_wait` (doubling) up to :attr:`max_wait`.

    ``failed(error)`` after each failed attempt (returns the wait), ``recovered()`` after
    each successful one. Thread-safe: a worker's consumer threads share one.
    """

    FIRST_WAIT_S = 0.5
    MAX_WAIT_S = 10.0

    def __init__(self, who: str, address: str, logger: logging.Logger | None = None,
                 first_wait: float = FIRST_WAIT_S, max_wait: float = MAX_WAIT_S,
                 service: str = "Redis") -> None:
        self.who = who
        self.address = address
        self.service = service
        """What is out: ``Redis``, or ``RabbitMQ`` (a worker's broker)."""
        self.log = logger or logging.getLogger(__name__)
        self.first_wait = first_wait
        self.max_wait = max_wait
        self.failures = 0
        self._since = 0.0
        self._lock = threading.Lock()

    @property
    def down(self) -> bool:
        return self.failures > 0

    def failed(self, error: Exception | str) -> float:
        """Count a failed attempt (the first one is logged); the seconds to wait."""
        with self._lock:
            if not self.failures:
                self._since = time.monotonic()
                reason = _reason(error)
                self.log.warning(
                    "%s: %s at %s is unreachable (%s); retrying with growing waits (up to "
                    "%.0f s), and logging once when it is back", self.who, self.service,
                    self.address, reason, self.max_wait)
            self.failures += 1
            return float(min(self.max_wait, self.first_wait * 2 ** (self.failures - 1)))

    def recovered(self) -> None:
        """Count a successful attempt; the end of an outage is logged once."""
        if not self.failures:  # the usual case, without taking the lock
            return
        with self._lock:
            if self.failures:
                self.log.info("%s: %s at %s is back after %.0f s (%d failed attempt(s))",
                              self.who, self.service, self.address,
                              time.monotonic() - self._since, self.failures)
                self.failures = 0
