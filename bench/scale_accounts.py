"""Scale in accounts: what a scheduler tick, ``GET /metrics`` and ``status --json`` cost in a
CRM of 10,000 accounts whose Redis holds a million contact keys.

    python -m bench.scale_accounts [--accounts 10000] [--contacts 1000000] [--due 100]

Runs an embedded redis-server; stores ``--accounts`` accounts (each with an encrypted key)
that have all synced once (nothing pending), and ``--contacts`` mirrored contact keys
spread over them. Measures, each with the Redis commands it ran (``INFO stats``):

* an idle scheduler tick (push and reverse side), after the first ticks looked at every
  account once;
* a tick where ``--due`` accounts have a change (their batches start);
* ``/metrics`` rendered by the state collector, and ``status --json``'s report.

The baseline, in the same run on the same Redis: the cheapest conceivable pass over every
account -- ``SMEMBERS`` of the accounts and one pipelined ``HGETALL`` of each account's
state -- which is what a scheduler without the due index must at least do per tick.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any

import redis
from cryptography.fernet import Fernet
from prometheus_client import CollectorRegistry

from shared import constants as keys
from shared.redis_server import EmbeddedRedis


def commands(client: redis.Redis) -> int:
    return int(client.info("stats")["total_commands_processed"])


def measured(client: redis.Redis, work: Callable[[], Any]) -> tuple[float, int]:
    """Seconds and Redis commands of ``work()`` (the INFO call itself not counted)."""
    before = commands(client)
    started = time.perf_counter()
    work()
    elapsed = time.perf_counter() - started
    return elapsed, commands(client) - before - 1


def fill(client: redis.Redis, accounts: int, contacts: int) -> list[str]:
    from shared.accounts import AccountStore
    from shared.settings import get_settings

    store = AccountStore(client, get_settings())
    names = [f"acct-{i:05d}" for i in range(accounts)]
    for name in names:
        store.add(name, f"pk_{name}")
    pipe = client.pipeline(transaction=False)
    for n in range(contacts):
        account = names[n % accounts]
        pipe.set(keys.contact(account, f"C{n}"), f'{{"contact":{{"id":"C{n}"}}}}')
        if n % 10_000 == 9_999:
            pipe.execute()
    for name in names:  # every account synced once: a completed batch, nothing pending
        pipe.hset(keys.state(name), mapping={"completed_at": "1.0", "next_due": "901.0",
                                             "last_batch": "b-0"})
    pipe.execute()
    return names


def full_pass(client: redis.Redis) -> None:
    names = client.smembers(keys.ACCOUNTS_SET)
    pipe = client.pipeline(transaction=False)
    for name in names:
        pipe.hgetall(keys.state(str(name)))
    pipe.execute()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=100)
    args = parser.parse_args()

    with EmbeddedRedis() as server:
        os.environ.update(REDIS_URL=server.url, SYNC_SECRET_KEY=Fernet.generate_key().decode(),
                          KLAVIYO_API_KEY="pk_default")
        from shared.accounts import AccountStore
        from shared.redis_client import connect
        from shared.settings import get_settings
        from shared.state.status_report import build_status
        from shared.telemetry.exposition import render_metrics
        from workers.reverse.schedule import ReverseSchedule
        from workers.scheduler import Scheduler

        get_settings.cache_clear()
        client = connect(server.url)
        started = time.perf_counter()
        names = fill(client, args.accounts, args.contacts)
        print(f"filled {args.accounts:,} accounts, {args.contacts:,} contact keys in "
              f"{time.perf_counter() - started:.1f} s; Redis holds {client.dbsize():,} keys")

        clock = [time.time()]
        sent: list[tuple[str, str]] = []
        reverse = ReverseSchedule(client, send_discovery=lambda a: None,
                                  send_pull=lambda a: None)
        scheduler = Scheduler(client, AccountStore(client, get_settings()),
                              lambda a, b: sent.append((a, b)), lambda: clock[0],
                              reverse=reverse)
        first_ticks = 0
        while first_ticks == 0 or client.zcount(keys.DUE_PUSH, "-inf", clock[0]) \
                or client.zcount(keys.DUE_REVERSE, "-inf", clock[0]):
            scheduler.tick()
            first_ticks += 1
        clock[0] += 1
        idle_s, idle_cmds = measured(client, scheduler.tick)
        base_s, base_cmds = measured(client, lambda: full_pass(client))

        pipe = client.pipeline(transaction=False)
        for name in names[: args.due]:
            pipe.zadd(keys.pending(name), {"C-new": 1.0})
            pipe.zadd(keys.DUE_PUSH, {name: 0.0}, nx=True)  # what the collector adds
        pipe.execute()
        clock[0] += 1
        due_s, due_cmds = measured(client, scheduler.tick)

        metrics_s, metrics_cmds = measured(
            client, lambda: render_metrics(CollectorRegistry(), lambda: client))
        status_s, status_cmds = measured(client, lambda: build_status(client))

    print(f"first ticks (each account looked at once, 1,000 a tick): {first_ticks}")
    print(f"idle tick:        {idle_s * 1000:8.1f} ms {idle_cmds:8,} commands")
    print(f"baseline pass:    {base_s * 1000:8.1f} ms {base_cmds:8,} commands "
          f"(SMEMBERS + a pipelined HGETALL per account); idle tick / baseline = "
          f"{idle_s / base_s:.3f}")
    print(f"tick, {args.due} due:  {due_s * 1000:8.1f} ms {due_cmds:8,} commands; "
          f"{len(sent)} batches started")
    print(f"/metrics:         {metrics_s * 1000:8.1f} ms {metrics_cmds:8,} commands")
    print(f"status --json:    {status_s * 1000:8.1f} ms {status_cmds:8,} commands")


if __name__ == "__main__":
    main()
