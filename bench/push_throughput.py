"""Push throughput: 100,000 changed contacts of one account, from pending to all in the
sandbox, next to the naive way (one ``create_or_update_profile`` per contact) on a sample.

    python -m bench.push_throughput [--contacts 100000] [--sample 1000] [--threads 8]
                                    [--processes 0|N]
                                    [--refused-share 0.01] [--default-list]
                                    [--deletes N [--delete-limits on|off|SCALE]]
                                    [--shape redis|cluster|both]

Runs an embedded redis-server, the sandbox (``contact-sync sandbox``, rate limits off) in
its own process, and an in-process Dramatiq worker on the real Redis broker. Prints
contacts/s, Klaviyo calls per 10,000 contacts (from the sandbox's ``/__sandbox/calls``),
and the time each way would take under Klaviyo's published limits. ``--refused-share``
gives that share of contacts an email of a domain the sandbox refuses as Klaviyo would
(the whole job answered 400, the rows named), so the resubmission rounds are counted too.
``--deletes N`` then deletes the first N synced contacts in the CRM (implies
``--default-list``: a delete costs Klaviyo calls only for contacts in a list) and times the
batch that takes them out of it, with the sandbox's rate limits as ``--delete-limits`` says.
``--shape cluster`` keeps the state on a local Redis Cluster instead (3 masters + 3
replicas, the Dramatiq queues on a redis-server of their own, 3 ingest shards), ``both``
runs the same push on one Redis and then on the cluster, each on a fresh stack, and prints
both with their ratio (cluster / one Redis). The worker is :mod:`bench.worker_usage`'s.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import redis
from cryptography.fernet import Fernet

from bench.worker_usage import Workers
from shared import constants as keys
from shared.events import Contact
from shared.klaviyo.client import build_client
from shared.klaviyo.rate_limiter import LIMITS
from shared.redis_client import connect, get_redis
from shared.redis_cluster_server import cluster_shape
from shared.redis_server import EmbeddedRedis
from shared.state.contact_mirror import event_mirror
from workers.push.batch import sync_batch


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_sandbox(key: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", "from cli.main import app; app()", "sandbox",
         "--port", str(port), "--keys", f"{key},naive-key", "--rate-limits", "off",
         "--refuse-email-domain", REFUSED_DOMAIN],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/__sandbox/calls", timeout=1)
            return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the sandbox did not start")


REFUSED_DOMAIN = "refused.example"


SHAPES = ("redis", "cluster")
"""Where the bench keeps the state: ``redis`` (one redis-server, the Dramatiq queues beside
the state) or ``cluster`` (3 masters + 3 replicas on loopback, the queues on a redis-server
of their own, 3 ingest shards: :func:`shared.redis_cluster_server.cluster_shape`)."""
SHAPE_NAMES = {"redis": "one Redis", "cluster": "3-master cluster"}


@contextmanager
def state_store(shape: str) -> Iterator[tuple[str, dict[str, str]]]:
    """A fresh state store of ``shape`` (:data:`SHAPES`): its ``REDIS_URL`` and the rest of
    the environment the processes need on it."""
    if shape == "cluster":
        with cluster_shape() as (cluster, env):
            yield cluster.url, env
    else:
        with EmbeddedRedis() as server:
            yield server.url, {}


@contextmanager
def bench_stack(shape: str = "redis") -> Iterator[tuple[redis.Redis, str, str, str]]:
    """A state store of ``shape`` (:func:`state_store`: by default an embedded
    redis-server) and the sandbox (its own process, rate limits off), the environment
    pointing at both; yields (client, Redis URL, sandbox URL, the bench account's key)."""
    from shared.settings import get_settings

    key = f"pk_bench_{uuid.uuid4().hex[:8]}"
    proc, url = start_sandbox(key)
    try:
        with state_store(shape) as (redis_url, shape_env):
            os.environ.update(REDIS_URL=redis_url, KLAVIYO_BASE_URL=url,
                              SYNC_SECRET_KEY=Fernet.generate_key().decode(), **shape_env)
            get_settings.cache_clear()
            get_redis.cache_clear()
            try:
                yield connect(redis_url), redis_url, url, key
            finally:
                for name in shape_env:  # the next stack of this process may be another shape
                    os.environ.pop(name, None)
                get_settings.cache_clear()
    finally:
        proc.terminate()
        proc.wait(10)


def create_list(key: str, url: str, name: str = "Newsletter") -> str:
    """A Klaviyo list in the sandbox account of ``key``: the bench's default list."""
    answer: Any = build_client(key, url).Lists.create_list(
        {"data": {"type": "list", "attributes": {"name": name}}})
    return str(answer["data"]["id"])


def contact(i: int, refused_every: int = 0) -> Contact:
    domain = REFUSED_DOMAIN if refused_every and i % refused_every == refused_every // 2 \
        else "example.com"
    return Contact(id=f"C{i}", email=f"person{i}@{domain}", first_name=f"First{i}",
                   last_name="Lee", phone=f"+447911{i % 1_000_000:06d}", job_title="Buyer",
                   role="Decision Maker",
                   company={"id": f"CO{i % 500}", "name": f"Company {i % 500}",
                            "type": "Customer"},
                   marketing="unknown", properties={"region": "North", "tier": i % 3})


def write_pending(client: Any, account: str, count: int, refused_every: int,
                  deleted: bool = False, start: float = 1_800_000_000.0) -> None:
    """The first ``count`` bench contacts changed (or ``deleted``) in the CRM, as the
    collector stores them (the producers' compact mirror)."""
    pipe = client.pipeline(transaction=False)
    for i in range(count):
        person = contact(i, refused_every).model_dump(mode="json")
        pipe.set(keys.contact(account, f"C{i}"), event_mirror(
            start + i, "contact.deleted" if deleted else "contact.updated", person, "webhook"))
        pipe.zadd(keys.pending(account), {f"C{i}": start + i})
        if i % 5000 == 4999:
            pipe.execute()
    pipe.execute()


def list_members(url: str, key: str) -> tuple[int, int]:
    """(members, distinct members) of the sandbox account's lists, all together."""
    data = httpx.get(f"{url}/__sandbox/accounts/{key}/lists", timeout=120).json()
    members = [m["profile_id"] for item in data["lists"] for m in item["members"]]
    return len(members), len(set(members))


def calls_of(url: str, key: str) -> Counter[str]:
    data = httpx.get(f"{url}/__sandbox/calls", params={"key": key}).json()
    counted: Counter[str] = Counter()
    for operation, by_status in data.items():
        if isinstance(by_status, dict):
            counted[operation] += sum(int(v) for v in by_status.values())
        else:
            counted[operation] += int(by_status)
    return counted


def minutes_under_limits(calls: Counter[str], scale: float) -> float:
    """Minutes the calls need at Klaviyo's steady limits (per operation, in parallel)."""
    return max((n * scale / LIMITS[op].steady for op, n in calls.items() if op in LIMITS),
               default=0.0)


def naive(url: str, count: int, key: str) -> tuple[float, int]:
    api = build_client(key, url)
    started = time.perf_counter()
    for i in range(count):
        c = contact(i)
        api.Profiles.create_or_update_profile({"data": {"type": "profile", "attributes": {
            "email": c.email, "phone_number": c.phone, "first_name": c.first_name,
            "last_name": c.last_name, "title": c.job_title, "organization": "Company",
            "properties": c.properties}}})
    return time.perf_counter() - started, count


WORKER_CPU: dict[str, float] = {}
"""CPU time of the worker(s) each batch took (every thread and process), by batch id."""


def run_batch(client: Any, workers: Workers, batch_id: str) -> tuple[float, dict[str, Any]]:
    """Start the bench account's batch ``batch_id`` and wait for ``workers`` to complete it;
    (seconds, its report). Their CPU goes in WORKER_CPU."""
    from workers.push.lifecycle import batch_info, start_batch

    start_batch(client, "bench", batch_id, time.time())
    started, cpu = time.perf_counter(), workers.cpu_seconds()
    sync_batch.send("bench", batch_id)
    while batch_info(client, "bench", batch_id).get("status") != "completed":
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    WORKER_CPU[batch_id] = workers.cpu_seconds() - cpu
    return elapsed, batch_info(client, "bench", batch_id)["report"]


def bench_deletes(client: Any, url: str, key: str, count: int, workers: Workers,
                  limits: str) -> None:
    """``--deletes``: a second batch of ``count`` CRM deletes of synced contacts; prints
    its time, its Klaviyo calls and what is left in the lists."""
    from sandbox.inspect_client import SandboxClient

    sandbox = SandboxClient(url)
    if limits in ("on", "off"):
        sandbox.set_limits(limits)
    else:
        sandbox.set_limits("on", scale=float(limits))
    before = calls_of(url, key)
    write_pending(client, "bench", count, 0, deleted=True, start=1_900_000_000.0)
    elapsed, report = run_batch(client, workers, "bench-deletes")
    calls = calls_of(url, key) - before
    throttled = sum(int(by_status.get("429", 0)) for by_status in sandbox.calls(key).values())
    sandbox.set_limits("off")
    deleted = {contact(i).email for i in range(count)}
    left = sum(1 for p in sandbox.profiles(key) if p.get("lists") and p.get("email") in deleted)
    sandbox.close()
    print(f"deletes:  {count:,} in {elapsed:.1f} s (sandbox limits {limits}); removed from "
          f"lists {report['removed_from_lists']:,}, still in a list {left:,}; "
          f"{sum(calls.values())} Klaviyo calls (429s over the whole run: {throttled}): "
          + ", ".join(f"{op} {n}" for op, n in sorted(calls.items())))


@dataclass
class PushRun:
    """What one push of the bench measured on one shape."""

    shape: str
    elapsed: float
    report: dict[str, Any]
    calls: Counter[str]
    in_list: tuple[int, int] | None
    naive_seconds: float
    naive_calls: Counter[str]
    worker_rss: float
    worker_cpu: float


def push(shape: str, args: argparse.Namespace) -> PushRun:
    """The bench's push (then the naive sample and any ``--deletes``) on a fresh stack of
    ``shape``."""
    refused_every = round(1 / args.refused_share) if args.refused_share > 0 else 0
    with bench_stack(shape) as (client, redis_url, url, key):
        from shared.accounts import AccountStore
        from shared.settings import get_settings
        from workers.runtime.broker import setup_broker

        store = AccountStore(client, get_settings())
        store.add("bench", key, klaviyo_base_url=url)
        if args.default_list:
            store.set("bench", default_list_id=create_list(key, url))
        write_pending(client, "bench", args.contacts, refused_every)
        setup_broker(redis_url, get_settings().broker_url_set)
        with Workers(args.processes, args.threads) as workers:
            elapsed, report = run_batch(client, workers, "bench-1")
            worker_rss = workers.peak_rss_mb()  # before the bench reads big answers itself
            calls = calls_of(url, key)
            in_list = list_members(url, key) if args.default_list else None
            naive_seconds, _ = naive(url, args.sample, "naive-key")
            naive_calls = calls_of(url, "naive-key")
            if args.deletes:
                bench_deletes(client, url, key, args.deletes, workers, args.delete_limits)
    return PushRun(shape, elapsed, report, calls, in_list, naive_seconds, naive_calls,
                   worker_rss, WORKER_CPU["bench-1"])


def print_run(run: PushRun, args: argparse.Namespace) -> None:
    """One push's figures (the bench's output since before shapes: unchanged for one
    Redis)."""
    calls, report, elapsed, naive_calls = run.calls, run.report, run.elapsed, run.naive_calls
    total_calls = sum(calls.values())
    per_10k = total_calls * 10_000 / args.contacts
    naive_rate = args.sample / run.naive_seconds
    scale_naive = args.contacts / args.sample
    print(f"pipeline: {args.contacts:,} contacts in {elapsed:.1f} s = "
          f"{args.contacts / elapsed:,.0f} contacts/s; created {report['created']:,}, "
          f"rejected {report['rejected']:,} in {report.get('import_rounds', 0)} refused "
          f"rounds")
    print(f"pipeline: {total_calls} Klaviyo calls = {per_10k:.1f} per 10,000 contacts: "
          + ", ".join(f"{op} {n}" for op, n in sorted(calls.items())))
    print(f"naive:    {args.sample:,} contacts in {run.naive_seconds:.1f} s = "
          f"{naive_rate:,.0f} contacts/s; {sum(naive_calls.values())} calls = "
          f"{sum(naive_calls.values()) * 10_000 / args.sample:,.0f} per 10,000 contacts")
    print(f"under Klaviyo's published limits, {args.contacts:,} contacts: pipeline >= "
          f"{minutes_under_limits(calls, 1.0):.2f} min of call budget; naive >= "
          f"{minutes_under_limits(naive_calls, scale_naive):.0f} min "
          f"(create_or_update_profile at 750/min)")
    if run.in_list:
        members, distinct = run.in_list
        print(f"default list: {members:,} members, {distinct:,} distinct (every created "
              f"contact once: {members == distinct == report['created']})")
    where = (f"{args.processes} dramatiq processes x {args.threads} threads" if args.processes
             else f"one worker of {args.threads} threads in the bench process")
    print(f"workers: {where}")
    print(f"worker peak RSS (VmHWM of the largest process running actors): "
          f"{run.worker_rss:,.0f} MB")
    print(f"worker CPU for the batch (every thread and process): {run.worker_cpu:.1f} s = "
          f"{run.worker_cpu / args.contacts * 1e6:.0f} us a contact")
    print(f"speed-up in the sandbox: {args.contacts / elapsed / naive_rate:.1f}x")


def print_ratios(one: PushRun, other: PushRun, contacts: int) -> None:
    """The same push on two shapes, side by side, with ``other / one``."""
    rows = [("time (s)", one.elapsed, other.elapsed, ".1f"),
            ("contacts/s", contacts / one.elapsed, contacts / other.elapsed, ",.0f"),
            ("Klaviyo calls", sum(one.calls.values()), sum(other.calls.values()), ",.0f"),
            ("worker CPU (us a contact)", one.worker_cpu / contacts * 1e6,
             other.worker_cpu / contacts * 1e6, ",.0f"),
            ("worker peak RSS (MB)", one.worker_rss, other.worker_rss, ",.0f")]
    first, second = SHAPE_NAMES[one.shape], SHAPE_NAMES[other.shape]
    print(f"{contacts:,} contacts, {first} and {second} in the same run "
          f"({os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end):")
    print(f"  {'':26s} {first:>16s} {second:>16s}   ratio")
    for name, a, b, form in rows:
        print(f"  {name:26s} {a:>16{form}} {b:>16{form}}   {b / a if a else 0:.2f}")
    for run in (one, other):
        if run.in_list:
            members, distinct = run.in_list
            print(f"  default list, {SHAPE_NAMES[run.shape]}: {members:,} members, "
                  f"{distinct:,} distinct, created {run.report['created']:,}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--sample", type=int, default=1_000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--processes", type=int, default=0,
                        help="worker processes (dramatiq workers.dramatiq_app, as deployed); "
                             "0 = one worker inside the bench process")
    parser.add_argument("--default-list", action="store_true",
                        help="first-time contacts join a default list (one per job)")
    parser.add_argument("--refused-share", type=float, default=0.01,
                        help="share of contacts whose email Klaviyo refuses (0 = none)")
    parser.add_argument("--deletes", type=int, default=0,
                        help="then delete this many synced contacts in the CRM (with a list)")
    parser.add_argument("--delete-limits", default="off",
                        help="sandbox rate limits for the deletes: on, off or a scale")
    parser.add_argument("--shape", choices=(*SHAPES, "both"), default="redis",
                        help="where the state lives: one Redis (default), a local 3-master "
                             "cluster, or both one after the other with their ratio")
    args = parser.parse_args()
    args.default_list = args.default_list or args.deletes > 0
    shapes = SHAPES if args.shape == "both" else (args.shape,)
    runs = []
    for shape in shapes:
        if len(shapes) > 1:
            print(f"== {SHAPE_NAMES[shape]} ==", flush=True)
        runs.append(push(shape, args))
        print_run(runs[-1], args)
    if len(runs) > 1:
        print_ratios(runs[0], runs[1], args.contacts)


if __name__ == "__main__":
    main()
