"""What an operator reads of a running contact-sync -- ``contact-sync status --json`` and
``web``'s ``/metrics`` -- after a sync, on one Redis and on a Redis Cluster (whose Dramatiq
queues live on their own Redis: the queue figures come from there)."""

from __future__ import annotations

import json

import httpx
import pytest

from shared import constants as keys
from tests.e2e.pipeline import STATE_SHAPES, Pipeline
from tests.support.process_stack import wait_until

__all__ = ["STATE_SHAPES"]
"""Every test here runs on one Redis and on a Redis Cluster (tests/e2e/conftest.py)."""

pytestmark = pytest.mark.xdist_group("test_status_and_metrics")


def test_status_and_metrics_report_the_synced_account_and_the_live_processes(
        pipeline: Pipeline) -> None:
    acme = pipeline.add_account()
    report = pipeline.sync(acme, [pipeline.upsert(acme, f"C-{n}", 1) for n in range(5)])
    assert report.get("created") == 5

    status = json.loads(pipeline.cli("status", "--json").stdout)
    mine = [a for a in status["accounts"] if a["account"] == acme.name]
    assert mine and mine[0]["pending"] == 0
    assert mine[0]["last_batch"]["status"] == "completed"
    assert {q["queue"] for q in status["queues"]} >= {"default"}
    assert status["events_backlog"] == 0 and status["scheduler_alive"]
    assert status["processes"]["worker"] >= 1 and status["processes"]["collector"] >= 1

    # /metrics names the accounts the scheduler has yet to look at; an idle account leaves
    # that index once its interval is over. One more change within a long interval keeps
    # the account waiting, with one contact pending.
    pipeline.set_account(acme, "--interval", "3600")
    pipeline.post([pipeline.upsert(acme, "C-late", 2)])
    wait_until(lambda: pipeline.r.zcard(keys.pending(acme.name)) == 1, 30,
               "the late change to be pending")
    text = httpx.get(f"{pipeline.stack.metrics_url}/metrics", timeout=30).text
    assert f'contact_sync_contacts_pending{{account="{acme.name}"}} 1.0' in text
    assert 'contact_sync_queue_messages{queue="default"}' in text
    assert "contact_sync_events_backlog 0.0" in text
    assert "contact_sync_redis_up 1.0" in text
