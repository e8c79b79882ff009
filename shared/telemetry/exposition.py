"""``/metrics`` of ``web``: its own counters plus the whole service's, read from Redis.

For the webhook (H3's endpoint)::

    from shared.telemetry.exposition import count_events_received, count_events_refused,
        render_metrics
    count_events_received(len(events))            # after the XADD succeeded
    count_events_refused("signature")             # 400/401/413/422/503 -> a reason
    body, content_type = render_metrics()         # GET /metrics

The metrics themselves are defined in :mod:`shared.telemetry.metrics`.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Callable, Iterator
from threading import Lock
from typing import Any

import redis
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter
from prometheus_client import generate_latest as _generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from shared import constants as keys
from shared.broker_redis import broker_redis
from shared.redis_text import as_text
from shared.telemetry import metrics as m
from shared.telemetry.broker_stats import events_backlog, queue_depths

log = logging.getLogger(__name__)

_EVENTS_RECEIVED = Counter(m.EVENTS_RECEIVED.name, m.EVENTS_RECEIVED.help,
                           list(m.EVENTS_RECEIVED.labels))
_EVENTS_REFUSED = Counter(m.EVENTS_REFUSED.name, m.EVENTS_REFUSED.help,
                          list(m.EVENTS_REFUSED.labels))


def count_events_received(count: int = 1, source: str = "webhook") -> None:
    """Events accepted (stored in Redis) by this process."""
    _EVENTS_RECEIVED.labels(source=source).inc(count)


def count_events_refused(reason: str, count: int = 1) -> None:
    """A refused request (``reason``: not_json, signature, too_large, schema, redis_down)."""
    _EVENTS_REFUSED.labels(reason=reason).inc(count)


class RedisStateCollector(Collector):
    """Collects the cluster-wide counters and the gauges of the state, from Redis."""

    def __init__(self, client_factory: Callable[[], redis.Redis]) -> None:
        self.client_factory = client_factory

    def collect(self) -> Iterator[Metric]:
        try:
            client = self.client_factory()
            families = [*self._recorded(client), *self._state(client)]
        except (redis.RedisError, RuntimeError) as error:
            log.warning("/metrics could not read Redis: %s", type(error).__name__)
            yield GaugeMetricFamily(m.REDIS_UP.name, m.REDIS_UP.help, value=0)
            return
        yield from families
        yield GaugeMetricFamily(m.REDIS_UP.name, m.REDIS_UP.help, value=1)

    def _recorded(self, client: redis.Redis) -> list[Metric]:
        raw: dict[Any, Any] = client.hgetall(keys.METRICS)  # type: ignore[assignment]
        series: dict[str, dict[tuple[tuple[str, str], ...], dict[str, float]]] = defaultdict(
            lambda: defaultdict(dict))
        for name_labels, value in raw.items():
            name, labels, part = json.loads(as_text(name_labels))
            series[name][tuple(sorted(labels.items()))][part] = float(as_text(value))
        families: list[Metric] = []
        for metric in m.RECORDED:
            if metric.kind == "histogram":
                families.append(self._histogram(metric, series.get(metric.name, {})))
                continue
            family = CounterMetricFamily(metric.name, metric.help, labels=list(metric.labels))
            for labels, parts in series.get(metric.name, {}).items():
                values = dict(labels)
                family.add_metric([values[name] for name in metric.labels], parts.get("", 0))
            families.append(family)
        return families

    @staticmethod
    def _histogram(
        metric: m.Metric, series: dict[tuple[tuple[str, str], ...], dict[str, float]]
    ) -> Metric:
        family = HistogramMetricFamily(metric.name, metric.help, labels=list(metric.labels))
        for labels, parts in series.items():
            cumulative, buckets = 0.0, []
            for le in [*(str(b) for b in m.DURATION_BUCKETS), "+Inf"]:
                cumulative += parts.get(f"le={le}", 0)
                buckets.append((le, cumulative))
            values = dict(labels)
            family.add_metric([values[name] for name in metric.labels], buckets,
                              parts.get("sum", 0))
        return family

    def _state(self, client: redis.Redis) -> list[Metric]:
        """Per-account gauges for every account, read only where they can be non-zero:
        pending and running from the accounts the scheduler's index holds (every account
        with pending contacts or a running batch is in it), rejected from the accounts
        that ever had a refusal. O(active accounts) commands, one round trip."""
        listed = client.pipeline(transaction=False)
        listed.smembers(keys.ACCOUNTS_SET)
        listed.zrange(keys.DUE_PUSH, 0, -1)
        listed.smembers(keys.REJECTING_ACCOUNTS)
        members, indexed, rejecting = (
            {as_text(a) for a in found} for found in listed.execute())
        accounts = sorted({"default", *members})
        active = sorted(indexed)
        refusing = sorted(rejecting)
        pipe = client.pipeline(transaction=False)
        for account in active:
            pipe.zcard(keys.pending(account))
            pipe.hget(keys.state(account), "running")
        for account in refusing:
            pipe.hlen(keys.rejected(account))
        answers = pipe.execute()
        counts: dict[str, tuple[int, int, int]] = dict.fromkeys(accounts, (0, 0, 0))
        for i, account in enumerate(active):
            counts[account] = (int(answers[2 * i]), 1 if answers[2 * i + 1] else 0, 0)
        for j, account in enumerate(refusing):
            waiting, runs, _ = counts.get(account, (0, 0, 0))
            counts[account] = (waiting, runs, int(answers[2 * len(active) + j]))
        pending = GaugeMetricFamily(m.CONTACTS_PENDING.name, m.CONTACTS_PENDING.help,
                                    labels=["account"])
        running = GaugeMetricFamily(m.BATCH_RUNNING.name, m.BATCH_RUNNING.help,
                                    labels=["account"])
        rejected = GaugeMetricFamily(m.REJECTED_CONTACTS.name, m.REJECTED_CONTACTS.help,
                                     labels=["account"])
        for account, (waiting, runs, refused_count) in sorted(counts.items()):
            pending.add_metric([account], waiting)
            running.add_metric([account], runs)
            rejected.add_metric([account], refused_count)
        messages = GaugeMetricFamily(m.QUEUE_MESSAGES.name, m.QUEUE_MESSAGES.help,
                                     labels=["queue"])
        delayed = GaugeMetricFamily(m.QUEUE_DELAYED.name, m.QUEUE_DELAYED.help,
                                    labels=["queue"])
        dead = GaugeMetricFamily(m.DEAD_LETTERS.name, m.DEAD_LETTERS.help, labels=["queue"])
        for depth in queue_depths(broker_redis(client)):
            messages.add_metric([depth.queue], depth.messages)
            delayed.add_metric([depth.queue], depth.delayed)
            dead.add_metric([depth.queue], depth.dead)
        backlog = GaugeMetricFamily(m.EVENTS_BACKLOG.name, m.EVENTS_BACKLOG.help,
                                    value=events_backlog(client))
        refused = GaugeMetricFamily(m.ACCOUNTS_REFUSED.name, m.ACCOUNTS_REFUSED.help,
                                    value=int(client.scard(keys.REFUSED_ACCOUNTS)))
        return [pending, running, rejected, messages, delayed, dead, backlog, refused]


_installed: set[int] = set()
_install_lock = Lock()


def install_state_collector(
    client_factory: Callable[[], redis.Redis] | None = None,
    registry: CollectorRegistry = REGISTRY,
) -> None:
    """Register the Redis collector on ``registry`` once (default: ``get_redis``)."""
    with _install_lock:
        if id(registry) in _installed:
            return
        if client_factory is None:
            from shared.redis_client import get_redis

            client_factory = get_redis
        registry.register(RedisStateCollector(client_factory))
        _installed.add(id(registry))


def render_metrics(
    registry: CollectorRegistry = REGISTRY,
    client_factory: Callable[[], redis.Redis] | None = None,
) -> tuple[bytes, str]:
    """The body and content type of a ``/metrics`` answer (installs the collector)."""
    install_state_collector(client_factory, registry)
    return _generate_latest(registry), CONTENT_TYPE_LATEST
