"""The ingest stream in shards (SYNC_INGEST_SHARDS): each account's events on one stream,
the streams on different masters of a Redis Cluster, one collector group per stream."""

from __future__ import annotations

import redis
from redis.crc import key_slot

from producers.event_stream import append_events
from shared import constants as keys
from shared import ingest_shards
from shared.redis_cluster_server import EmbeddedRedisCluster
from tests.conftest import Setting
from tests.workers.collector_helpers import event
from workers.collector import Collector


def test_one_shard_is_the_one_stream_of_before() -> None:
    assert ingest_shards.streams(1) == [keys.EVENTS_STREAM]
    assert ingest_shards.stream_of("acme", 1) == keys.EVENTS_STREAM


def test_three_shards_land_on_the_three_masters_of_a_cluster(
        redis_cluster: EmbeddedRedisCluster) -> None:
    streams = ingest_shards.streams(3)
    assert len(set(streams)) == 3 and all(name.startswith(keys.EVENTS_STREAM) for name in streams)
    masters = {redis_cluster.master_of(name).port for name in streams}
    assert len(masters) == 3, [key_slot(name.encode()) for name in streams]


def test_an_accounts_events_all_go_to_its_shard_and_are_applied_by_its_collector(
        rc: redis.Redis, setting: Setting) -> None:
    setting("SYNC_INGEST_SHARDS", "3")
    accounts = [f"acct-{n}" for n in range(12)]
    stored = append_events(rc, [event(f"C-{n}", 1000.0 + n, account=name)
                                for n, name in enumerate(accounts)], "webhook")
    assert stored == 12
    streams = ingest_shards.streams()
    lengths = {name: int(rc.xlen(name)) for name in streams}
    assert sum(lengths.values()) == 12 and all(lengths.values()), lengths
    for name in accounts:
        mine = ingest_shards.stream_of(name)
        entries = rc.xrange(mine)
        assert any(fields["account"] == name for _, fields in entries)  # type: ignore[union-attr,index]

    for stream in streams:
        collector = Collector(rc, "c-1", block_ms=10, stream=stream)
        collector.ensure_group()
        while collector.run_once():
            pass
    for n, name in enumerate(accounts):
        assert rc.zscore(keys.pending(name), f"C-{n}") == 1000.0 + n
        assert rc.zscore(keys.DUE_PUSH, name) is not None
