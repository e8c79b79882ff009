"""Preview speed: the kept counts (``shared.state.contact_facets.preview_counts``) of one
big account, next to the count that reads every mirror
(``shared.account_service.preview.counted_from_mirrors``).

    python -m bench.preview_speed [--contacts 1000000] [--repeat 20]

Runs an embedded redis-server. ``--contacts`` contacts of one account (7 roles, 5 company
types, the three marketing states, one email in 50 invalid) are appended to the events
stream as the producers write them and applied by a real collector, which keeps the
facet counts. Then, with the account's filters and cap set in the environment (two roles,
three company types, a cap of a third of the contacts), the kept preview is timed
``--repeat`` times (median) with the Redis commands it ran, and the read of every mirror
once, in the same run; both must give the same counts.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from typing import Any

import orjson
import redis

from producers.event_stream import append_wire_events
from shared.redis_server import EmbeddedRedis
from shared.wire_events import wire_event
from workers.intake.collector import Collector

ACCOUNT = "default"
ROLES = ["Decision Maker", "Buyer", "Intern", "Finance", "IT", " buyer ", "Owner"]
TYPES = ["Customer", "Prospect", "Partner", "Competitor", "customer"]
MARKETING = ["subscribed", "unsubscribed", "unknown"]


def item(n: int) -> dict[str, Any]:
    email = f"person{n}@example.com" if n % 50 else f"person{n}.example.com"
    return {"event_id": f"evt-{n}", "account_id": ACCOUNT, "type": "contact.upserted",
            "occurred_at": "2026-11-22T10:00:00Z",
            "contact": {"id": f"C-{n}", "email": email, "first_name": "Ann",
                        "role": ROLES[n % 7], "marketing": MARKETING[n % 3],
                        "company": {"name": "Acme", "type": TYPES[n % 5]},
                        "properties": {"region": "North"}}}


def feed(client: redis.Redis, contacts: int) -> None:
    """The events, validated by the models' rules, appended 1,000 at a time."""
    for start in range(0, contacts, 1000):
        events = [wire_event(orjson.dumps(item(n)))
                  for n in range(start, min(start + 1000, contacts))]
        append_wire_events(client, events, "import")


def commands_run(client: redis.Redis) -> int:
    stats: dict[str, Any] = client.info("commandstats")
    return sum(int(s["calls"]) for s in stats.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    os.environ.update(SYNC_CONTACT_ROLES="Buyer,Decision Maker",
                      SYNC_COMPANY_TYPES="Customer,Prospect,Partner",
                      SYNC_MAX_BULK_EXPORT=str(args.contacts // 3))
    from shared.account_service.preview import counted_from_mirrors
    from shared.accounts import AccountStore
    from shared.settings import Settings
    from shared.state.contact_facets import preview_counts

    with EmbeddedRedis() as server:
        client = redis.Redis.from_url(server.url, decode_responses=True)
        feed(client, args.contacts)
        collector = Collector(client, "bench", block_ms=0, claim_every=1e9)
        collector.run_overlapped(lambda handled: handled > 0)
        settings = Settings()
        timings: list[float] = []
        for _ in range(args.repeat):
            client.config_resetstat()
            started = time.perf_counter()
            kept = preview_counts(client, ACCOUNT, settings.contact_roles,
                                  settings.company_types, settings.max_bulk_export)
            timings.append(time.perf_counter() - started)
            commands = commands_run(client) - 1
        facets = int(client.hlen(f"sync:{{{ACCOUNT}}}:facets"))
        started = time.perf_counter()
        full = counted_from_mirrors(client, AccountStore(client, settings).get(ACCOUNT))
        full_s = time.perf_counter() - started
        client.close()

    same = (kept.matching, kept.matching_unsubscribed, kept.excluded_invalid_email,
            kept.excluded_over_cap, kept.would_send) == (
        full.matching, full.matching_unsubscribed, full.excluded.invalid_email,
        full.excluded.over_cap, full.would_send)
    assert same, f"kept {kept} != full {full}"
    kept_ms = statistics.median(timings) * 1000
    print(f"machine: {platform.platform()}, {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f}; one account of {args.contacts:,} contacts, "
          f"{facets} facets counted")
    print(f"kept counts (preview_counts): {kept_ms:.2f} ms (median of {args.repeat}), "
          f"{commands} Redis command(s)")
    print(f"every mirror read (counted_from_mirrors): {full_s * 1000:,.0f} ms")
    print(f"ratio: {full_s * 1000 / kept_ms:,.0f}x; both give matching {kept.matching:,}, "
          f"unsubscribed {kept.matching_unsubscribed:,}, invalid email "
          f"{kept.excluded_invalid_email:,}, over the cap {kept.excluded_over_cap:,}, "
          f"would send {kept.would_send:,}")


if __name__ == "__main__":
    main()
