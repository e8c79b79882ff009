"""A real local Redis Cluster for the suite's cluster part: 3 masters + 3 replicas on free
loopback ports (shared/redis_cluster_server.py), started once per test process when a test
first asks for it, stopped (and its directories removed) at the end of the session.

Registered from ``tests/conftest.py`` (``pytest_plugins``). ``cluster_url`` empties every
master before the test; ``rc`` is the service's own client on it (``REDIS_URL`` semantics:
``redis+cluster://...``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing

import pytest
import redis

from shared.redis_client import connect
from shared.redis_cluster_server import EmbeddedRedisCluster


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[EmbeddedRedisCluster]:
    """One private Redis Cluster (3 masters, 3 replicas, AOF on) for this test process."""
    with EmbeddedRedisCluster(masters=3) as cluster:
        yield cluster


@pytest.fixture
def cluster_url(redis_cluster: EmbeddedRedisCluster) -> Iterator[str]:
    """The ``redis+cluster://`` URL of the cluster, every master emptied before the test.
    (A failover test kills a master: it starts a cluster of its own.)"""
    redis_cluster.flushall()
    yield redis_cluster.url


@pytest.fixture
def rc(cluster_url: str) -> Iterator[redis.Redis]:
    """The service's client (``shared.redis_client.connect``) on the empty cluster."""
    with closing(connect(cluster_url)) as client:
        yield client
