"""Redis bytes per synced contact, by record family.

    python -m bench.memory_per_contact [--contacts 100000] [--accounts 10]

Runs an embedded redis-server, the sandbox in its own process (rate limits off) and an
in-process Dramatiq worker. ``--contacts`` contact events (the contract's example shape,
each with its own valid phone) are appended to the events stream as the webhook does,
applied by a real :class:`workers.intake.collector.Collector`, and synced into the sandbox, one
batch per account. The stream is then trimmed (what ops do; it is not per-contact state)
and every key's ``MEMORY USAGE`` is summed by family (the key with its ids replaced by
``*``). The baseline in the same run: the bytes of the contacts' JSON as the CRM sent it.
"""

from __future__ import annotations

import argparse
import re
import time
from collections import Counter
from typing import Any

import dramatiq

from bench.ingest_throughput import make_event
from bench.push_throughput import bench_stack
from producers.event_stream import append_events
from shared import constants as keys
from shared.events import ContactEvent
from workers.push.batch import sync_batch

IDS = re.compile(r"\{[^}]*\}|(?<=:)[A-Za-z0-9_-]*\d[A-Za-z0-9_-]*")


def family(key: str) -> str:
    """``sync:{acct-3}:contact:C-17`` -> ``sync:{*}:contact:*``."""
    return IDS.sub(lambda m: "{*}" if m.group(0).startswith("{") else "*", key)


def feed(client: Any, contacts: int, accounts: int) -> int:
    """Append the events; returns their JSON bytes."""
    sent = 0
    batch: list[ContactEvent] = []
    for n in range(contacts):
        item = make_event(n)
        item["account_id"] = f"acct-{n % accounts}"
        item["contact"]["phone"] = f"+447911{n % 1_000_000:06d}"  # type: ignore[index]
        event = ContactEvent.model_validate(item)
        sent += len(event.model_dump_json())
        batch.append(event)
        if len(batch) == 1000:
            append_events(client, batch, "webhook")
            batch = []
    append_events(client, batch, "webhook")
    return sent


def measure(client: Any) -> Counter[str]:
    sizes: Counter[str] = Counter()
    for raw in client.scan_iter(count=5000):
        key = raw.decode() if isinstance(raw, bytes) else str(raw)
        sizes[family(key)] += int(client.memory_usage(key, samples=0) or 0)
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--accounts", type=int, default=10)
    args = parser.parse_args()

    with bench_stack() as (client, redis_url, url, key):
        from shared.accounts import AccountStore
        from shared.settings import get_settings
        from workers.intake.collector import Collector
        from workers.push.lifecycle import batch_info, start_batch
        from workers.runtime.broker import setup_broker

        store = AccountStore(client, get_settings())
        names = [f"acct-{i}" for i in range(args.accounts)]
        for name in names:
            store.add(name, key, klaviyo_base_url=url)
        sent_bytes = feed(client, args.contacts, args.accounts)
        collector = Collector(client, "bench", block_ms=0, count=500, claim_every=1e9)
        collector.ensure_group()
        while collector.run_once():
            pass
        broker = setup_broker(redis_url)
        worker = dramatiq.Worker(broker, worker_threads=8, worker_timeout=20)
        worker.start()
        started = time.perf_counter()
        try:
            for name in names:
                start_batch(client, name, f"b-{name}", time.time())
                sync_batch.send(name, f"b-{name}")
            for name in names:
                while batch_info(client, name, f"b-{name}").get("status") != "completed":
                    time.sleep(0.1)
        finally:
            worker.stop()
        synced_s = time.perf_counter() - started
        client.xtrim(keys.EVENTS_STREAM, maxlen=0)
        sizes = measure(client)

    total = sum(sizes.values())
    print(f"{args.contacts:,} contacts in {args.accounts} accounts collected and synced "
          f"({synced_s:.1f} s to sync); Redis holds {total / args.contacts:,.0f} B per "
          f"contact; the CRM sent {sent_bytes / args.contacts:,.0f} B of JSON per contact "
          f"(ratio {total / sent_bytes:.2f})")
    for name, size in sizes.most_common():
        per = size / args.contacts
        if per >= 1:
            print(f"  {per:8.1f} B/contact  {name}")


if __name__ == "__main__":
    main()
