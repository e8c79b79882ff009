"""On a Redis Cluster the webhook's 202 means the events are on the stream's master AND
on a replica (``WAIT 1``, SYNC_INGEST_REPLICA_WAIT_MS): a failover keeps them. When no
replica confirms in time the webhook answers 503 (retry later), never a 202 it might lose."""

from __future__ import annotations

import json
import os
import signal
import time

import redis

from producers.intake import store
from shared import ingest_shards
from shared.redis_cluster_server import ClusterNode, EmbeddedRedisCluster
from shared.wire_events import WireEvent, wire_event
from tests.conftest import Setting
from tests.support.process_stack import contact_event


def _events(count: int) -> list[WireEvent]:
    return [wire_event(json.dumps(contact_event("acme", f"C-{n}", "2026-11-22T10:00:00Z",
                                                email=f"c{n}@example.com")))
            for n in range(count)]


def _replica_of(cluster: EmbeddedRedisCluster, master: ClusterNode) -> ClusterNode:
    for node in cluster.nodes:
        if node.alive and node is not master:
            info = node.command("INFO", "replication")
            if info["role"] == "slave" and int(info["master_port"]) == master.port:
                return node
    raise LookupError("the master has no replica")


def test_a_202_means_a_replica_has_the_events(
        rc: redis.Redis, redis_cluster: EmbeddedRedisCluster) -> None:
    answer = store(_events(5), rc)
    assert answer.status == 202 and answer.body == {"accepted": 5}
    stream = ingest_shards.stream_of("acme")
    replica = _replica_of(redis_cluster, redis_cluster.master_of(stream))
    client = replica.client()
    try:
        client.execute_command("READONLY")  # type: ignore[no-untyped-call]
        assert client.xlen(stream) == 5  # read at once, no waiting: it was there already
    finally:
        client.close()


def test_without_a_replica_confirming_in_time_the_webhook_answers_503(
        rc: redis.Redis, redis_cluster: EmbeddedRedisCluster, setting: Setting) -> None:
    setting("SYNC_INGEST_REPLICA_WAIT_MS", "200")
    stream = ingest_shards.stream_of("acme")
    replica = _replica_of(redis_cluster, redis_cluster.master_of(stream))
    assert replica.process is not None
    os.kill(replica.process.pid, signal.SIGSTOP)  # frozen: it confirms nothing
    try:
        started = time.monotonic()
        answer = store(_events(3), rc)
        waited = time.monotonic() - started
    finally:
        os.kill(replica.process.pid, signal.SIGCONT)
    assert answer.status == 503, answer
    assert "replica did not confirm" in answer.body["detail"] and answer.headers["Retry-After"]
    assert 0.2 <= waited < 2.0
    setting("SYNC_INGEST_REPLICA_WAIT_MS", "0")  # the loss window accepted: 202 at once
    assert store(_events(1), rc).status == 202
