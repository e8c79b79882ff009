"""A scrape of ``web``'s ``/metrics`` over HTTP shows the counters moving during a sync:
events received, the batch running, Klaviyo calls, then the batch and its contacts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from cli.procfile import PROJECT_ROOT
from producers.signature import sign
from shared.redis_server import free_port
from tests.workers.dramatiq_harness import wait_for
from tests.workers.push_harness import PushAccount, prepare_env, push_worker
from workers.actors.batch import sync_batch
from workers.batch_lifecycle import batch_info, start_batch

SECRET = "metrics-test-secret"
Series = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
def web(redis_url: str) -> Iterator[str]:
    port, metrics_port = free_port(), free_port()
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("contact-sync")), "web", "--port", str(port)],
        cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "REDIS_URL": redis_url, "SYNC_WEBHOOK_SECRET": SECRET,
             "SYNC_METRICS_PORT": str(metrics_port)},
    )
    url = f"http://127.0.0.1:{port}"
    metrics_urls[url] = f"http://127.0.0.1:{metrics_port}"

    def up() -> bool:
        try:
            return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return process.poll() is not None
    try:
        wait_for(up)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


metrics_urls: dict[str, str] = {}
"""The web's URL -> its metrics listener's (SYNC_METRICS_PORT, loopback only)."""


def scrape(url: str) -> Series:
    text = httpx.get(f"{metrics_urls[url]}/metrics", timeout=10).text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(series: Series, name: str, **labels: str) -> float:
    return series.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_move_during_a_sync(r, redis_url, sandbox, web, monkeypatch):
    prepare_env(monkeypatch, redis_url, sandbox.url)
    sandbox.set_jobs("async", 1500)  # Klaviyo's import job takes a while: the batch runs
    before = scrape(web)

    body = json.dumps({"events": [{
        "event_id": "evt-m1", "account_id": "default", "type": "contact.upserted",
        "occurred_at": "2026-11-22T10:00:00Z", "contact": {"id": "C-1", "email": "m@example.com"}}]
    }).encode()
    answer = httpx.post(f"{web}/v1/contact-events", content=body, headers={
        "X-Sync-Signature": sign(SECRET, body), "Content-Type": "application/json"})
    assert answer.status_code == 202

    with push_worker(redis_url):
        acct = PushAccount(r, sandbox)
        for n in range(20):
            acct.change(f"C{n}")
        batch_id = f"b-{uuid.uuid4().hex[:8]}"
        start_batch(r, acct.name, batch_id, time.time())
        sync_batch.send(acct.name, batch_id)
        calls = "contact_sync_klaviyo_calls_total"
        bulk = {"operation": "bulk_import_profiles", "status": "200"}

        def running_and_called() -> Series | None:
            seen = scrape(web)
            moving = (value(seen, "contact_sync_batch_running", account=acct.name) == 1
                      and value(seen, calls, **bulk) > value(before, calls, **bulk))
            return seen if moving else None

        during = wait_for(running_and_called)
        wait_for(lambda: batch_info(r, acct.name, batch_id).get("status") == "completed")
    after = scrape(web)

    received = "contact_sync_events_received_total"
    print(f"\n/metrics before -> during -> after the sync of 20 contacts ({acct.name}):")
    for name, labels in [(received, {"source": "webhook"}), (calls, bulk),
                         ("contact_sync_batch_running", {"account": acct.name}),
                         ("contact_sync_batches_total", {"account": acct.name,
                                                         "status": "completed"}),
                         ("contact_sync_contacts_synced_total", {"account": acct.name})]:
        figures = [value(s, name, **labels) for s in (before, during, after)]
        print(f"  {name}{labels}: {figures[0]:g} -> {figures[1]:g} -> {figures[2]:g}")
    assert value(during, received, source="webhook") == value(before, received,
                                                              source="webhook") + 1
    assert value(after, "contact_sync_batch_running", account=acct.name) == 0
    assert value(after, "contact_sync_batches_total", account=acct.name,
                 status="completed") == 1
    assert value(after, "contact_sync_contacts_synced_total", account=acct.name) == 20
    assert value(after, "contact_sync_batch_duration_seconds_count") > value(
        before, "contact_sync_batch_duration_seconds_count")
