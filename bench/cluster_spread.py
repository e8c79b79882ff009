"""Intake on one Redis and on a 3-master Redis Cluster, in the same run: how fast events
are stored (the producers' ``append_events``, 1,000 a call) and applied (one collector per
ingest stream), and, on the cluster, the keys and memory each master holds afterwards.

    python -m bench.cluster_spread [--contacts 100000] [--accounts 1000]

Starts an embedded redis-server and a local cluster (3 masters + 3 replicas,
shared/redis_cluster_server.py). One Redis runs with one ingest stream (the default), the
cluster with ``SYNC_INGEST_SHARDS=3``. Each contact gets one event of the contract's
example shape, spread round-robin over ``--accounts`` accounts. Prints events/s of both
steps on both shapes with their ratio, then per master: keys, ``used_memory`` and the
spread (largest / smallest - 1; the goal is within 20 %).
"""

from __future__ import annotations

import argparse
import os
import time

import redis

from bench.ingest_throughput import make_event
from producers.event_stream import append_events
from shared import ingest_shards
from shared.events import ContactEvent
from shared.redis_client import connect
from shared.redis_cluster_server import EmbeddedRedisCluster
from shared.redis_server import EmbeddedRedis
from shared.settings import get_settings
from workers.collector import Collector


def run(client: redis.Redis, contacts: int, accounts: int, shards: int) -> tuple[float, float]:
    """(events/s stored, events/s applied) with ``shards`` ingest streams."""
    os.environ["SYNC_INGEST_SHARDS"] = str(shards)
    get_settings.cache_clear()
    events = []
    for n in range(contacts):
        item = make_event(n)
        item["account_id"] = f"acct-{n % accounts:04d}"
        events.append(ContactEvent.model_validate(item))
    started = time.perf_counter()
    for start in range(0, contacts, 1000):
        append_events(client, events[start:start + 1000], "webhook")
    stored = time.perf_counter() - started
    started = time.perf_counter()
    for stream in ingest_shards.streams():
        collector = Collector(client, "bench", block_ms=0, stream=stream)
        collector.ensure_group()
        while collector.run_once():
            pass
    applied = time.perf_counter() - started
    return contacts / stored, contacts / applied


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--accounts", type=int, default=1_000)
    args = parser.parse_args()
    with EmbeddedRedis() as single, EmbeddedRedisCluster(masters=3) as cluster:
        one = run(connect(single.url), args.contacts, args.accounts, 1)
        many = run(connect(cluster.url), args.contacts, args.accounts, 3)
        print(f"{args.contacts:,} contacts over {args.accounts:,} accounts, "
              f"{os.cpu_count()} cores")
        for step, a, b in (("stored", one[0], many[0]), ("applied", one[1], many[1])):
            print(f"  {step:8s} one Redis {a:9,.0f} ev/s   cluster {b:9,.0f} ev/s   "
                  f"ratio {b / a:.2f}")
        figures = []
        for node in cluster.live_masters():
            memory = node.command("INFO", "memory")["used_memory"]
            keys = node.command("DBSIZE")
            figures.append((node.port, int(keys), int(memory)))
            print(f"  master :{node.port}  {keys:>9,} keys  {memory / 2**20:8.1f} MB")
        most, least = max(f[1] for f in figures), min(f[1] for f in figures)
        mem_most, mem_least = max(f[2] for f in figures), min(f[2] for f in figures)
        print(f"  spread: keys {most / least - 1:.1%}, memory {mem_most / mem_least - 1:.1%}")


if __name__ == "__main__":
    main()
