"""Fixtures shared by the whole suite: a real redis-server per test process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from shared.redis_client import connect
from shared.redis_server import EmbeddedRedis


@pytest.fixture(scope="session")
def redis_server() -> Iterator[EmbeddedRedis]:
    """One private redis-server (AOF on) for this test process, the embedded helper's own."""
    with EmbeddedRedis() as server:
        yield server


@pytest.fixture
def redis_url(redis_server: EmbeddedRedis) -> Iterator[str]:
    """The URL of a Redis emptied before the test."""
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    yield redis_server.url


@pytest.fixture
def r(redis_url: str) -> Iterator[redis.Redis]:
    """A decoded client on an empty Redis."""
    client = connect(redis_url)
    yield client
    client.close()
