"""Every Prometheus metric of contact-sync, defined in one place, and how to record them.

Two kinds:

* **Cluster-wide** counters and histograms (Klaviyo calls, 429s, batches, rejections, dead
  letters) are recorded by whichever process does the work -- mostly Dramatiq workers on
  any number of machines -- into one Redis hash (:data:`shared.constants.METRICS`). ``web``
  exposes the totals on ``/metrics`` (:mod:`shared.telemetry.exposition`), so one scrape
  shows the whole service, and counters survive worker restarts.
* **Per process** counters of the webhook (events received / refused) live in ``web``'s
  memory: a refusal because Redis is down must still be counted.

Gauges (contacts pending per account, running batches, queue depths, dead letters) are not
recorded at all: they are read from Redis state at scrape time.

This module does not import ``prometheus_client`` (workers import it, and Dramatiq's
Prometheus middleware needs ``prometheus_client`` first imported after process boot).
Recording never raises: a metric must not fail a sync.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import redis

from shared import constants as keys

log = logging.getLogger(__name__)

Kind = Literal["counter", "gauge", "histogram"]


@dataclass(frozen=True)
class Metric:
    name: str
    kind: Kind
    help: str
    labels: tuple[str, ...] = ()


# --- per process (web) ---------------------------------------------------------------------
EVENTS_RECEIVED = Metric("contact_sync_events_received_total", "counter",
                         "Contact events accepted and stored.", ("source",))
EVENTS_REFUSED = Metric("contact_sync_events_refused_total", "counter",
                        "Webhook requests refused, by reason.", ("reason",))

# --- cluster-wide, recorded into Redis ---------------------------------------------------
KLAVIYO_CALLS = Metric("contact_sync_klaviyo_calls_total", "counter",
                       "Calls to Klaviyo's API, by operation and HTTP status.",
                       ("operation", "status"))
KLAVIYO_THROTTLED = Metric("contact_sync_klaviyo_throttled_total", "counter",
                           "Klaviyo answers 429 (rate limited), by operation.", ("operation",))
BATCHES = Metric("contact_sync_batches_total", "counter",
                 "Sync batches finished, by account and status (completed, failed).",
                 ("account", "status"))
BATCH_DURATION = Metric("contact_sync_batch_duration_seconds", "histogram",
                        "Time from a batch's start to its end.", ())
CONTACTS_SYNCED = Metric("contact_sync_contacts_synced_total", "counter",
                         "Contacts sent to Klaviyo by batches, by account.", ("account",))
CONTACTS_REJECTED = Metric("contact_sync_contacts_rejected_total", "counter",
                           "Contacts Klaviyo refused, by account.", ("account",))
DEAD_LETTERED = Metric("contact_sync_dead_lettered_total", "counter",
                       "Dramatiq messages that failed for good, by queue and actor.",
                       ("queue", "actor"))

# --- gauges, read from Redis state at scrape time ----------------------------------------
CONTACTS_PENDING = Metric("contact_sync_contacts_pending", "gauge",
                          "Contacts changed and waiting for the next batch.", ("account",))
BATCH_RUNNING = Metric("contact_sync_batch_running", "gauge",
                       "1 while a batch of the account runs.", ("account",))
REJECTED_CONTACTS = Metric("contact_sync_rejected_contacts", "gauge",
                           "Contacts currently recorded as refused by Klaviyo.", ("account",))
QUEUE_MESSAGES = Metric("contact_sync_queue_messages", "gauge",
                        "Dramatiq messages waiting or in progress, by queue.", ("queue",))
QUEUE_DELAYED = Metric("contact_sync_queue_delayed_messages", "gauge",
                       "Dramatiq messages delayed (retries, back-off), by queue.", ("queue",))
DEAD_LETTERS = Metric("contact_sync_dead_letters", "gauge",
                      "Dead letters currently kept, by queue.", ("queue",))
EVENTS_BACKLOG = Metric("contact_sync_events_backlog", "gauge",
                        "Events on the stream not yet applied by a collector.", ())
ACCOUNTS_REFUSED = Metric("contact_sync_accounts_refused", "gauge",
                          "Accounts whose Klaviyo refuses their credentials (401/403).", ())
ACCOUNTS = Metric("contact_sync_accounts", "gauge",
                  "Accounts known (configured or with events).", ())
ACCOUNTS_ACTIVE = Metric("contact_sync_accounts_active", "gauge",
                         "Accounts with pending contacts or a running batch.", ())
ACCOUNTS_REJECTING = Metric("contact_sync_accounts_rejecting", "gauge",
                            "Accounts with contacts currently refused by Klaviyo.", ())
REDIS_UP = Metric("contact_sync_redis_up", "gauge",
                  "1 when /metrics could read Redis.", ())

THROTTLE_LOG_KEPT = 1000
DURATION_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
RECORDED = (KLAVIYO_CALLS, KLAVIYO_THROTTLED, BATCHES, BATCH_DURATION, CONTACTS_SYNCED,
            CONTACTS_REJECTED, DEAD_LETTERED)


BATCH_STATUSES = ("completed", "failed")


def account_fields(account: str) -> list[str]:
    """The Redis hash fields of every recorded series labelled with ``account`` (dropped
    when the account is deleted, so that its series go from ``/metrics``)."""
    return [*(field(BATCHES, {"account": account, "status": status})
              for status in BATCH_STATUSES),
            field(CONTACTS_SYNCED, {"account": account}),
            field(CONTACTS_REJECTED, {"account": account})]


def field(metric: Metric, labels: Mapping[str, str], part: str = "") -> str:
    """The Redis hash field of one series (``part``: a histogram's ``le=..``/sum/count)."""
    return json.dumps([metric.name, dict(sorted(labels.items())), part], separators=(",", ":"))


def _labels(metric: Metric, given: Mapping[str, object]) -> dict[str, str]:
    if set(given) != set(metric.labels):
        raise ValueError(f"{metric.name} takes labels {metric.labels}, got {sorted(given)}")
    return {name: str(value) for name, value in given.items()}


def increment(client: redis.Redis, metric: Metric, amount: float = 1, **labels: object) -> None:
    """Add ``amount`` to a cluster-wide counter."""
    series = _labels(metric, labels)
    try:
        client.hincrbyfloat(keys.METRICS, field(metric, series), amount)
    except redis.RedisError as error:
        log.warning("metric %s not recorded: %s", metric.name, type(error).__name__)


def observe(client: redis.Redis, metric: Metric, value: float, **labels: object) -> None:
    """Record one observation in a cluster-wide histogram."""
    series = _labels(metric, labels)
    bucket = next((str(le) for le in DURATION_BUCKETS if value <= le), "+Inf")
    try:
        pipe = client.pipeline(transaction=False)
        pipe.hincrbyfloat(keys.METRICS, field(metric, series, f"le={bucket}"), 1)
        pipe.hincrbyfloat(keys.METRICS, field(metric, series, "sum"), value)
        pipe.hincrbyfloat(keys.METRICS, field(metric, series, "count"), 1)
        pipe.execute()
    except redis.RedisError as error:
        log.warning("metric %s not recorded: %s", metric.name, type(error).__name__)


# --- what the other modules call ---------------------------------------------------------
def record_klaviyo_call(
    client: redis.Redis, operation: str, status: int, at: float | None = None
) -> None:
    """One answer of Klaviyo (``operation`` e.g. ``bulk_import``, ``get_lists``). A 429 is
    also logged with its time, for ``contact-sync status`` (recent 429s)."""
    increment(client, KLAVIYO_CALLS, operation=operation, status=status)
    if status == 429:
        increment(client, KLAVIYO_THROTTLED, operation=operation)
        entry = json.dumps({"at": time.time() if at is None else at, "operation": operation})
        try:
            pipe = client.pipeline(transaction=False)
            pipe.lpush(keys.THROTTLE_LOG, entry)
            pipe.ltrim(keys.THROTTLE_LOG, 0, THROTTLE_LOG_KEPT - 1)
            pipe.execute()
        except redis.RedisError as error:
            log.warning("429 not logged: %s", type(error).__name__)


def recent_throttles(client: redis.Redis, since: float) -> list[dict[str, object]]:
    """The logged 429s since ``since`` (epoch s), newest first."""
    raw: list[str | bytes] = client.lrange(keys.THROTTLE_LOG, 0, -1)  # type: ignore[assignment]
    entries = [json.loads(item) for item in raw]
    return [entry for entry in entries if float(entry.get("at", 0)) >= since]


def record_batch(
    client: redis.Redis, account: str, status: str, duration_seconds: float, contacts: int = 0
) -> None:
    """A batch finished (``status``: completed or failed)."""
    increment(client, BATCHES, account=account, status=status)
    observe(client, BATCH_DURATION, max(0.0, duration_seconds))
    if contacts:
        increment(client, CONTACTS_SYNCED, contacts, account=account)


def record_rejections(client: redis.Redis, account: str, count: int = 1) -> None:
    """Klaviyo refused ``count`` contacts of the account."""
    if count:
        increment(client, CONTACTS_REJECTED, count, account=account)
        client.sadd(keys.REJECTING_ACCOUNTS, account)


def record_dead_letter(client: redis.Redis, queue: str, actor: str) -> None:
    """A message failed for good."""
    increment(client, DEAD_LETTERED, queue=queue, actor=actor)
