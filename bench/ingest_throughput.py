"""Ingest throughput: signed 1,000-event requests through the real webhook (a ``contact-sync
web`` process), next to a plain redis-py pipeline writing the same events to the stream.

    python -m bench.ingest_throughput [--events 200000] [--connections 8] [--web-workers 1]

Runs an embedded redis-server (or ``--redis-url``), starts ``contact-sync web`` on a free
port, and posts pre-built bodies (signed just before sending) over ``--connections``
concurrent keep-alive connections, one client thread each. The clock runs from the first
request to the last 202; every event must be in the stream at the end. The baseline then
writes the same events (the same ``event`` JSON and ``origin`` fields) with ``XADD`` in
pipelines of 1,000 on the same Redis, in the same run. Prints both rates and their ratio.
"""

from __future__ import annotations

import argparse
import os
import platform
import queue
import secrets
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import orjson
import redis

from producers.signature import sign
from shared import constants as keys
from shared.accounts import AccountStore
from shared.events import ContactEvent
from shared.redis_server import EmbeddedRedis, free_port
from shared.settings import Settings

PER_REQUEST = 1000
ACCOUNTS = 50
"""The events spread over this many accounts, created before the run (the webhook refuses
events for accounts that are not configured)."""
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def make_event(n: int) -> dict[str, object]:
    """One event of the contract's example shape (~450 bytes of JSON)."""
    return {"event_id": f"evt-{n}", "account_id": f"acct-{n % ACCOUNTS}",
            "type": "contact.upserted", "occurred_at": "2026-11-22T10:00:00Z",
            "contact": {"id": f"C-{n}", "email": f"person{n}@example.com",
                        "first_name": "Ann", "last_name": "Lee", "phone": "+447700900123",
                        "job_title": "Buyer", "role": "Decision Maker",
                        "company": {"id": f"CO-{n % 500}", "name": "Acme Ltd",
                                    "type": "Customer"},
                        "marketing": "subscribed", "properties": {"region": "North"}}}


def start_web(redis_url: str, secret: str, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "REDIS_URL": redis_url, "SYNC_WEBHOOK_SECRET": secret,
           "SYNC_LOG_FORMAT": "text"}
    command = [str(Path(sys.executable).with_name("contact-sync")), "web", "--host",
               "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            raise SystemExit(f"contact-sync web exited with {process.returncode}")
        time.sleep(0.1)
    process.kill()
    raise SystemExit("contact-sync web did not become ready")


def through_webhook(url: str, secret: str, bodies: list[bytes], connections: int) -> float:
    """Post every body (one signed request each) over ``connections`` threads; seconds."""
    work: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
    for body in bodies:
        work.put(body)
    for _ in range(connections):
        work.put(None)
    failures: list[str] = []
    ready = threading.Barrier(connections + 1)

    def client() -> None:
        with httpx.Client(base_url=url, timeout=60) as http:
            http.get("/healthz")  # open the keep-alive connection before the clock
            ready.wait()
            while (body := work.get()) is not None:
                answer = http.post("/v1/contact-events", content=body, headers={
                    "X-Sync-Signature": sign(secret, body),
                    "Content-Type": "application/json"})
                if answer.status_code != 202:
                    failures.append(f"{answer.status_code} {answer.text[:200]}")

    threads = [threading.Thread(target=client) for _ in range(connections)]
    for thread in threads:
        thread.start()
    ready.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise SystemExit(f"{len(failures)} requests refused, first: {failures[0]}")
    return elapsed


def through_pipeline(client: redis.Redis, stored: list[bytes]) -> float:
    """XADD the same stream entries in pipelines of 1,000; seconds."""
    started = time.perf_counter()
    for start in range(0, len(stored), PER_REQUEST):
        pipe = client.pipeline(transaction=False)
        for event in stored[start:start + PER_REQUEST]:
            pipe.xadd(keys.EVENTS_STREAM, {"event": event, "origin": "webhook"})
        pipe.execute()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--web-workers", type=int, default=1)
    parser.add_argument("--redis-url", default=None, help="default: an embedded redis-server")
    args = parser.parse_args()
    total = args.events - args.events % PER_REQUEST

    events = [make_event(n) for n in range(total)]
    bodies = [orjson.dumps({"events": events[i:i + PER_REQUEST]})
              for i in range(0, total, PER_REQUEST)]
    stored = [ContactEvent.model_validate(e).model_dump_json().encode() for e in events]
    secret = f"whsec-{secrets.token_hex(8)}"

    embedded = None if args.redis_url else EmbeddedRedis().start()
    redis_url = args.redis_url or (embedded.url if embedded else "")
    client = redis.Redis.from_url(redis_url)
    store = AccountStore(client, Settings())
    for name in (f"acct-{n}" for n in range(ACCOUNTS)):
        if not store.exists(name):
            store.create(name)
    web, url = start_web(redis_url, secret, args.web_workers)
    try:
        client.delete(keys.EVENTS_STREAM)
        webhook_s = through_webhook(url, secret, bodies, args.connections)
        assert client.xlen(keys.EVENTS_STREAM) == total, "every accepted event is stored"
        client.delete(keys.EVENTS_STREAM)
        pipeline_s = through_pipeline(client, stored)
        assert client.xlen(keys.EVENTS_STREAM) == total
        client.delete(keys.EVENTS_STREAM)
    finally:
        web.terminate()
        web.wait(timeout=30)
        client.close()
        if embedded:
            embedded.stop()

    webhook_rate, pipeline_rate = total / webhook_s, total / pipeline_s
    print(f"machine: {platform.platform()}, {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f}; {total:,} events in {len(bodies)} requests of "
          f"{PER_REQUEST:,} ({len(bodies[0]) / 1e6:.2f} MB each), {args.connections} "
          f"connections, {args.web_workers} web worker(s)")
    print(f"{'':28}{'seconds':>10}{'events/s':>12}")
    print(f"{'webhook (contact-sync web)':28}{webhook_s:>10.2f}{webhook_rate:>12,.0f}")
    print(f"{'redis-py pipeline XADD':28}{pipeline_s:>10.2f}{pipeline_rate:>12,.0f}")
    print(f"webhook / pipeline: {webhook_rate / pipeline_rate:.2f}  "
          f"(target >= 50,000 events/s: {'met' if webhook_rate >= 50_000 else 'NOT met'})")


if __name__ == "__main__":
    main()
