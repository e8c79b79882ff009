"""Collector throughput: how fast one collector applies events from the stream (newest
``occurred_at`` wins, contact mirror, pending set), next to a bare consumer that only reads
and acknowledges the same entries.

    python -m bench.collector_throughput [--events 200000] [--contacts 50000] [--count 500]

Runs an embedded redis-server (or ``--redis-url``) and fills the events stream with
``--events`` events (the contract's example shape) for ``--contacts`` contacts of 50
accounts, written the way the producers write them. The clock runs while one in-process
:class:`workers.intake.collector.Collector` (``--count`` entries a read, the collector process's
default) drains the stream; every contact must then be pending. The baseline, in the same
run on the same Redis and the same entries: ``XREADGROUP`` + ``XACK`` of the same batch size,
nothing parsed or applied. Prints both rates and their ratio.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from typing import Any

import redis

from bench.ingest_throughput import make_event
from producers.event_stream import append_events
from shared import constants as keys
from shared.events import ContactEvent
from shared.redis_server import EmbeddedRedis
from workers.intake.collector import Collector

ACCOUNTS = 50
BASELINE_GROUP = "bench-baseline"


def fill_stream(client: redis.Redis, events: int, contacts: int) -> None:
    """``events`` events for ``contacts`` contacts, newest last, 1,000 per append."""
    batch: list[ContactEvent] = []
    for n in range(events):
        item = make_event(n % contacts)
        item["account_id"] = f"acct-{n % contacts % ACCOUNTS}"
        item["occurred_at"] = f"2026-11-22T10:{(n // contacts) % 60:02d}:00Z"
        batch.append(ContactEvent.model_validate(item))
        if len(batch) == 1000:
            append_events(client, batch, "webhook")
            batch = []
    append_events(client, batch, "webhook")


def commands_run(client: redis.Redis) -> int:
    """Commands Redis ran since its counters were reset, those inside scripts included."""
    stats: dict[str, Any] = client.info("commandstats")
    return sum(int(s["calls"]) for s in stats.values())


def through_collector(client: redis.Redis, count: int, sequential: bool
                      ) -> tuple[float, float, int]:
    """Seconds to drain the stream, this process's CPU seconds for it, and the Redis
    commands it took: as ``run_forever`` does (the next batch prepared while Redis applies
    one), or ``sequential``-ly (``run_once``)."""
    collector = Collector(client, "bench", block_ms=0, count=count, claim_every=1e9)
    collector.ensure_group()
    client.config_resetstat()
    started, cpu = time.perf_counter(), time.process_time()
    if sequential:
        while collector.run_once():
            pass
    else:
        collector.run_overlapped(lambda handled: handled > 0)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    return elapsed, cpu, commands_run(client) - 1  # less the INFO that counted them


def through_bare_consumer(client: redis.Redis, count: int) -> tuple[float, float]:
    client.xgroup_create(keys.EVENTS_STREAM, BASELINE_GROUP, id="0")
    started, cpu = time.perf_counter(), time.process_time()
    while True:
        answer: Any = client.xreadgroup(BASELINE_GROUP, "bench", {keys.EVENTS_STREAM: ">"},
                                        count=count)
        if not answer:
            break
        entries = answer[0][1]
        client.xack(keys.EVENTS_STREAM, BASELINE_GROUP, *[entry_id for entry_id, _ in entries])
    return time.perf_counter() - started, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--contacts", type=int, default=50_000)
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--redis-url", default=None, help="default: an embedded redis-server")
    parser.add_argument("--sequential", action="store_true",
                        help="one batch at a time (run_once), not as run_forever does")
    args = parser.parse_args()

    embedded = None if args.redis_url else EmbeddedRedis().start()
    client = redis.Redis.from_url(args.redis_url or (embedded.url if embedded else ""),
                                  decode_responses=True)
    try:
        client.flushdb()
        fill_stream(client, args.events, args.contacts)
        bare_s, bare_cpu = through_bare_consumer(client, args.count)  # before the trim
        collector_s, collector_cpu, commands = through_collector(client, args.count,
                                                                 args.sequential)
        pending = sum(int(client.zcard(keys.pending(f"acct-{a}")))
                      for a in range(ACCOUNTS))
        assert pending == args.contacts, f"{pending} of {args.contacts} contacts pending"
        client.flushdb()
    finally:
        client.close()
        if embedded:
            embedded.stop()

    collector_rate, bare_rate = args.events / collector_s, args.events / bare_s
    print(f"machine: {platform.platform()}, {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f}; {args.events:,} events for {args.contacts:,} contacts "
          f"of {ACCOUNTS} accounts, {args.count} entries a read")
    print(f"{'':34}{'seconds':>10}{'events/s':>12}{'CPU us/event':>14}")
    mode = "run_once" if args.sequential else "run_forever's"
    print(f"{f'collector ({mode} loop)':34}{collector_s:>10.2f}"
          f"{collector_rate:>12,.0f}{collector_cpu / args.events * 1e6:>14.1f}")
    print(f"{'bare XREADGROUP + XACK':34}{bare_s:>10.2f}{bare_rate:>12,.0f}"
          f"{bare_cpu / args.events * 1e6:>14.1f}")
    print(f"collector / bare consumer: {collector_rate / bare_rate:.2f}; the collector ran "
          f"{commands / args.events:.2f} Redis commands per event (scripts' inner "
          f"commands included)")


if __name__ == "__main__":
    main()
