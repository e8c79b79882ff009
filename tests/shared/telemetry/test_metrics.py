"""Metrics recorded by any process into Redis, and the gauges of the state, as a
Prometheus scrape of ``/metrics`` shows them."""

from __future__ import annotations

import pytest
import redis
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from shared import constants as keys
from shared.redis_client import connect
from shared.redis_server import free_port
from shared.state import due_accounts
from shared.state.rejections import record_rejection
from shared.telemetry import metrics
from shared.telemetry.exposition import (
    count_events_received,
    count_events_refused,
    render_metrics,
)
from tests.workers.dramatiq_harness import (
    dead_lettered,
)
from workers.batch_lifecycle import start_batch


def scrape(redis_url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """name + labels -> value, from a fresh registry over the Redis at ``redis_url``."""
    body, content_type = render_metrics(CollectorRegistry(), lambda: connect(redis_url))
    assert content_type.startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }


def test_klaviyo_calls_throttles_batches_and_rejections_add_up_across_processes(r, redis_url):
    other_process = redis.Redis.from_url(redis_url)  # a bytes client, as Dramatiq's
    metrics.record_klaviyo_call(r, "bulk_import", 202)
    metrics.record_klaviyo_call(other_process, "bulk_import", 202)
    metrics.record_klaviyo_call(r, "bulk_import", 429)
    metrics.record_batch(r, "acme", "completed", 42.0, contacts=120)
    metrics.record_batch(other_process, "acme", "failed", 4000.0)
    metrics.record_rejections(r, "acme", 3)
    metrics.record_dead_letter(r, "default", "sync_batch")
    seen = scrape(redis_url)
    calls = "contact_sync_klaviyo_calls_total"
    assert seen[(calls, (("operation", "bulk_import"), ("status", "202")))] == 2
    assert seen[(calls, (("operation", "bulk_import"), ("status", "429")))] == 1
    assert seen[("contact_sync_klaviyo_throttled_total", (("operation", "bulk_import"),))] == 1
    assert seen[("contact_sync_batches_total", (("account", "acme"), ("status", "completed")))] == 1
    assert seen[("contact_sync_contacts_synced_total", (("account", "acme"),))] == 120
    assert seen[("contact_sync_contacts_rejected_total", (("account", "acme"),))] == 3
    assert seen[("contact_sync_dead_lettered_total",
                 (("actor", "sync_batch"), ("queue", "default")))] == 1
    duration = "contact_sync_batch_duration_seconds"
    assert seen[(duration + "_bucket", (("le", "60.0"),))] == 1
    assert seen[(duration + "_bucket", (("le", "+Inf"),))] == 2
    assert seen[(duration + "_count", ())] == 2 and seen[(duration + "_sum", ())] == 4042


def test_counters_move_between_two_scrapes(r, redis_url):
    before = scrape(redis_url)
    metrics.record_klaviyo_call(r, "get_lists", 200)
    after = scrape(redis_url)
    series = ("contact_sync_klaviyo_calls_total", (("operation", "get_lists"), ("status", "200")))
    assert before.get(series, 0) == 0 and after[series] == 1


def test_gauges_show_pending_contacts_running_batches_queues_and_dead_letters(r, redis_url):
    r.sadd(keys.ACCOUNTS_SET, "acme", "idle")
    r.zadd(keys.pending("acme"), {"C-0": 0})
    start_batch(r, "acme", "b-1", 10.0)
    r.zadd(keys.pending("acme"), {"C-1": 1, "C-2": 2})  # as the collector does:
    due_accounts.note_pending(r, "acme")  # pending, then the scheduler's index
    record_rejection(r, "default", "C-9", code="invalid", title="t", detail="d",
                     batch_id="b-0")
    actor = dead_lettered(redis_url, ("acme", "b-1"))
    actor.send("acme", "b-2")  # waits: no worker any more
    actor.send_with_options(args=("acme", "b-3"), delay=600_000)
    seen = scrape(redis_url)
    assert seen[("contact_sync_contacts_pending", (("account", "acme"),))] == 2
    # Per-account series only for busy accounts (issue 19: bounded per scrape); every
    # account is counted in the totals.
    assert ("contact_sync_contacts_pending", (("account", "idle"),)) not in seen
    assert seen[("contact_sync_accounts", ())] == 2
    assert seen[("contact_sync_accounts_active", ())] == 1
    assert seen[("contact_sync_accounts_rejecting", ())] == 1
    assert seen[("contact_sync_rejected_contacts", (("account", "acme"),))] == 0
    assert seen[("contact_sync_batch_running", (("account", "acme"),))] == 1
    assert seen[("contact_sync_rejected_contacts", (("account", "default"),))] == 1
    queue = (("queue", actor.queue_name),)
    assert seen[("contact_sync_queue_messages", queue)] == 1
    assert seen[("contact_sync_queue_delayed_messages", queue)] == 1
    assert seen[("contact_sync_dead_letters", queue)] == 1
    assert seen[("contact_sync_redis_up", ())] == 1


def test_events_backlog_counts_what_the_collectors_have_not_applied(r, redis_url):
    r.xgroup_create(keys.EVENTS_STREAM, keys.COLLECTOR_GROUP, id="0", mkstream=True)
    for i in range(3):
        r.xadd(keys.EVENTS_STREAM, {"n": str(i)})
    r.xreadgroup(keys.COLLECTOR_GROUP, "c1", {keys.EVENTS_STREAM: ">"}, count=1)
    assert scrape(redis_url)[("contact_sync_events_backlog", ())] == 3  # 2 unread + 1 unacked


def test_scrape_without_redis_says_redis_is_down_instead_of_failing():
    body, _ = render_metrics(CollectorRegistry(),
                             lambda: connect(f"redis://127.0.0.1:{free_port()}/0"))
    assert b"contact_sync_redis_up 0.0" in body


def test_webhook_counters_count_received_and_refused_events():
    name, refused = "contact_sync_events_received_total", "contact_sync_events_refused_total"
    before = REGISTRY.get_sample_value(name, {"source": "webhook"}) or 0
    count_events_received(5)
    count_events_refused("signature")
    assert REGISTRY.get_sample_value(name, {"source": "webhook"}) == before + 5
    assert (REGISTRY.get_sample_value(refused, {"reason": "signature"}) or 0) >= 1


def test_recording_with_wrong_labels_is_a_programming_error(r):
    with pytest.raises(ValueError, match="takes labels"):
        metrics.increment(r, metrics.BATCHES, account="acme")
