"""Push throughput: 100,000 changed contacts of one account, from pending to all in the
sandbox, next to the naive way (one ``create_or_update_profile`` per contact) on a sample.

    python -m bench.push_throughput [--contacts 100000] [--sample 1000] [--threads 8]
                                    [--processes 0|N]
                                    [--refused-share 0.01] [--default-list]
                                    [--deletes N [--delete-limits on|off|SCALE]]

Runs an embedded redis-server, the sandbox (``contact-sync sandbox``, rate limits off) in
its own process, and an in-process Dramatiq worker on the real Redis broker. Prints
contacts/s, Klaviyo calls per 10,000 contacts (from the sandbox's ``/__sandbox/calls``),
and the time each way would take under Klaviyo's published limits. ``--refused-share``
gives that share of contacts an email of a domain the sandbox refuses as Klaviyo would
(the whole job answered 400, the rows named), so the resubmission rounds are counted too.
``--deletes N`` then deletes the first N synced contacts in the CRM (implies
``--default-list``: a delete costs Klaviyo calls only for contacts in a list) and times the
batch that takes them out of it, with the sandbox's rate limits as ``--delete-limits`` says.
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
from typing import Any

import dramatiq
import httpx
import redis
from cryptography.fernet import Fernet

from shared import constants as keys
from shared.events import Contact
from shared.klaviyo.client import build_client
from shared.klaviyo.rate_limiter import LIMITS
from shared.redis_client import connect
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


@contextmanager
def bench_stack() -> Iterator[tuple[redis.Redis, str, str, str]]:
    """An embedded redis-server and the sandbox (its own process, rate limits off), the
    environment pointing at both; yields (client, Redis URL, sandbox URL, the bench
    account's key)."""
    key = f"pk_bench_{uuid.uuid4().hex[:8]}"
    proc, url = start_sandbox(key)
    try:
        with EmbeddedRedis() as server:
            os.environ.update(REDIS_URL=server.url, KLAVIYO_BASE_URL=url,
                              SYNC_SECRET_KEY=Fernet.generate_key().decode())
            from shared.settings import get_settings

            get_settings.cache_clear()
            yield connect(server.url), server.url, url, key
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


def peak_rss_mb(pid: int | str = "self") -> float:
    """The peak resident set (VmHWM) of a process, in MB (by default the bench process,
    which runs the in-process worker's threads)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


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


class Workers:
    """The Dramatiq worker(s) the bench runs: ``processes`` 0 is one worker in this process
    (its CPU is this process's); 1 or more run ``dramatiq workers.dramatiq_app`` as
    deployed (Procfile: 2 processes), measured from /proc."""

    def __init__(self, processes: int, threads: int) -> None:
        self.processes, self.threads = processes, threads
        self._worker: dramatiq.Worker | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Workers:
        if not self.processes:
            self._worker = dramatiq.Worker(dramatiq.get_broker(), worker_threads=self.threads,
                                           worker_timeout=20)
            self._worker.start()
            return self
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "dramatiq", "workers.dramatiq_app", "--processes",
             str(self.processes), "--threads", str(self.threads)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = connect(os.environ["REDIS_URL"])
        deadline = time.monotonic() + 60
        while client.zcard(keys.dramatiq_heartbeats()) < self.processes:  # each consumes
            if time.monotonic() > deadline or self._proc.poll() is not None:
                raise SystemExit("the dramatiq worker processes did not start")
            time.sleep(0.1)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._worker is not None:
            self._worker.stop()
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(60)

    def _pids(self) -> list[int]:
        assert self._proc is not None
        return [self._proc.pid, *children_of(self._proc.pid)]

    def cpu_seconds(self) -> float:
        if self._proc is None:
            return time.process_time()
        return sum(process_cpu_seconds(pid) for pid in self._pids())

    def peak_rss_mb(self) -> float:
        """The largest peak resident set of a process running actors."""
        if self._proc is None:
            return peak_rss_mb()
        return max(peak_rss_mb(pid) for pid in self._pids())


def _stat_fields(pid: int | str) -> list[str]:
    """``/proc/<pid>/stat`` after the command name: state, ppid, ... (proc(5), from field 3)."""
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()


def children_of(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (dramatiq's worker processes)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parent = int(_stat_fields(entry)[1])
            except OSError:
                continue
            if parent == pid:
                found.append(int(entry))
    return found


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = _stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
    args = parser.parse_args()
    args.default_list = args.default_list or args.deletes > 0
    refused_every = round(1 / args.refused_share) if args.refused_share > 0 else 0

    with bench_stack() as (client, redis_url, url, key):
        from shared.accounts import AccountStore
        from shared.settings import get_settings
        from workers.runtime.broker import setup_broker

        store = AccountStore(client, get_settings())
        store.add("bench", key, klaviyo_base_url=url)
        if args.default_list:
            store.set("bench", default_list_id=create_list(key, url))
        write_pending(client, "bench", args.contacts, refused_every)
        setup_broker(redis_url)
        with Workers(args.processes, args.threads) as workers:
            elapsed, report = run_batch(client, workers, "bench-1")
            worker_rss = workers.peak_rss_mb()  # before the bench reads big answers itself
            calls = calls_of(url, key)
            in_list = list_members(url, key) if args.default_list else None
            naive_seconds, naive_count = naive(url, args.sample, "naive-key")
            naive_calls = calls_of(url, "naive-key")
            if args.deletes:
                bench_deletes(client, url, key, args.deletes, workers, args.delete_limits)

    total_calls = sum(calls.values())
    per_10k = total_calls * 10_000 / args.contacts
    naive_rate = naive_count / naive_seconds
    scale_naive = args.contacts / naive_count
    print(f"pipeline: {args.contacts:,} contacts in {elapsed:.1f} s = "
          f"{args.contacts / elapsed:,.0f} contacts/s; created {report['created']:,}, "
          f"rejected {report['rejected']:,} in {report.get('import_rounds', 0)} refused "
          f"rounds")
    print(f"pipeline: {total_calls} Klaviyo calls = {per_10k:.1f} per 10,000 contacts: "
          + ", ".join(f"{op} {n}" for op, n in sorted(calls.items())))
    print(f"naive:    {naive_count:,} contacts in {naive_seconds:.1f} s = {naive_rate:,.0f} "
          f"contacts/s; {sum(naive_calls.values())} calls = "
          f"{sum(naive_calls.values()) * 10_000 / naive_count:,.0f} per 10,000 contacts")
    print(f"under Klaviyo's published limits, {args.contacts:,} contacts: pipeline >= "
          f"{minutes_under_limits(calls, 1.0):.2f} min of call budget; naive >= "
          f"{minutes_under_limits(naive_calls, scale_naive):.0f} min "
          f"(create_or_update_profile at 750/min)")
    if in_list:
        print(f"default list: {in_list[0]:,} members, {in_list[1]:,} distinct (every created "
              f"contact once: {in_list[0] == in_list[1] == report['created']})")
    where = (f"{args.processes} dramatiq processes x {args.threads} threads" if args.processes
             else f"one worker of {args.threads} threads in the bench process")
    print(f"workers: {where}")
    print(f"worker peak RSS (VmHWM of the largest process running actors): "
          f"{worker_rss:,.0f} MB")
    cpu = WORKER_CPU["bench-1"]
    print(f"worker CPU for the batch (every thread and process): {cpu:.1f} s = "
          f"{cpu / args.contacts * 1e6:.0f} us a contact")
    print(f"speed-up in the sandbox: {args.contacts / elapsed / naive_rate:.1f}x")


if __name__ == "__main__":
    main()
