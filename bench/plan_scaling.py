"""Planning alone, at several batch sizes: time per 10,000 contacts and the planning
process's peak RSS, to show that planning is linear and its memory bounded.

    python -m bench.plan_scaling [--sizes 10000,100000,300000] [--profile 20000]

Each size runs in a fresh process (so its VmHWM is its own) on the stack of
:func:`bench.push_throughput.bench_stack`: first-time contacts of one account with a
default list, written as pending, one batch started and planned by
:class:`workers.push.plan.stream.StreamPlanner` run after run until done, nothing sent.
``--profile N`` plans N contacts under cProfile and prints where the time goes.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import subprocess
import sys
import time

from bench.push_throughput import bench_stack, create_list, write_pending
from bench.worker_usage import peak_rss_mb
from shared.state.batch_record import chunks_total


def plan_once(contacts: int, profile: bool) -> None:
    with bench_stack() as (client, redis_url, url, key):
        from shared.accounts import AccountStore
        from shared.settings import get_settings
        from workers.push.lifecycle import start_batch
        from workers.runtime.broker import setup_broker

        store = AccountStore(client, get_settings())
        store.add("bench", key, klaviyo_base_url=url)
        store.set("bench", default_list_id=create_list(key, url))
        write_pending(client, "bench", contacts, 100)
        setup_broker(redis_url)
        from workers.push.plan.stream import StreamPlanner

        start_batch(client, "bench", "plan-1", time.time())
        before = peak_rss_mb()
        profiler = cProfile.Profile() if profile else None
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        runs = 1
        while StreamPlanner(client, "bench", "plan-1").run(time.monotonic() + 120) == "more":
            runs += 1
        if profiler:
            profiler.disable()
        elapsed = time.perf_counter() - started
        chunks = chunks_total(client, "bench", "plan-1")
        print(f"{contacts:>9,} contacts: planned in {elapsed:6.1f} s = "
              f"{elapsed * 10_000 / contacts:.2f} s per 10,000 ({runs} runs, {chunks} chunks);"
              f" peak RSS {peak_rss_mb():,.0f} MB ({before:,.0f} MB before planning)",
              flush=True)
        if profiler:
            pstats.Stats(profiler).sort_stats("tottime").print_stats(20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,300000")
    parser.add_argument("--profile", type=int, default=0,
                        help="plan this many contacts under cProfile instead")
    parser.add_argument("--one", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one or args.profile:
        plan_once(args.one or args.profile, profile=bool(args.profile))
        return
    for size in (int(s) for s in args.sizes.split(",")):
        subprocess.run([sys.executable, "-m", "bench.plan_scaling", "--one", str(size)],
                       check=True)


if __name__ == "__main__":
    main()
