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
from shared.redis_text import as_text
from shared.telemetry import metrics as m
from shared.telemetry.broker_stats import events_backlog, queue_depths
from shared.telemetry.rabbitmq_stats import BrokerUnavailable

log = logging.getLogger(__name__)

DEFAULT_ACCOUNT_SERIES = 50
"""``SYNC_METRICS_ACCOUNT_SERIES``'s default (:class:`shared.settings.Settings`)."""

_EVENTS_RECEIVED = Counter(m.EVENTS_RECEIVED.name, m.EVENTS_RECEIVED.help,
                           list(m.EVENTS_RECEIVED.labels))
_EVENTS_REFUSED = Counter(m.EVENTS_REFUSED.name, m.EVENTS_REFUSED.help,
                          list(m.EVENTS_REFUSED.labels))


def count_events_received(count: int = 1, source: str = "webhook") -> None:
    """Events accepted (stored in Redis) by this process."""
    _EVENTS_RECEIVED.labels(source=source).inc(count)


def count_events_refused(reason: str, count: int = 1) -> None:
    """A refused request (``reason``: not_json, signature, too_large, schema, unknown_account,
    redis_down)."""
    _EVENTS_REFUSED.labels(reason=reason).inc(count)


class RedisStateCollector(Collector):
    """Collects the cluster-wide counters and the gauges of the state, from Redis."""

    def __init__(self, client_factory: Callable[[], redis.Redis],
                 account_series: int = DEFAULT_ACCOUNT_SERIES) -> None:
        self.client_factory = client_factory
        self.account_series = account_series

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
        raw: dict[Any, Any] = client.hgetall(keys.METRICS)
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
        """Per-account gauges for at most ``account_series`` accounts each way: the ones
        due soonest in the scheduler's index (every account with pending contacts or a
        running batch is in it) and the first ones of the rejecting set; totals for every
        account. Two round trips, at most 5 + 6 x ``account_series`` commands, whatever
        the number of accounts (issue 19: a series per account cost 25 s and 1 GB at 50k)."""
        limit = self.account_series
        listed = client.pipeline(transaction=False)
        listed.scard(keys.ACCOUNTS_SET)
        listed.zcard(keys.DUE_PUSH)
        listed.scard(keys.REJECTING_ACCOUNTS)
        if limit:
            listed.zrange(keys.DUE_PUSH, 0, limit - 1)
            listed.sscan(keys.REJECTING_ACCOUNTS, 0, count=limit)
        found = listed.execute()
        known, active_count, rejecting_count = (int(value) for value in found[:3])
        due = [as_text(a) for a in found[3]] if limit else []
        refusing = [as_text(a) for a in found[4][1]][:limit] if limit else []
        shown = sorted({*due, *refusing})
        pipe = client.pipeline(transaction=False)
        for account in shown:
            pipe.zcard(keys.pending(account))
            pipe.hget(keys.state(account), "running")
            pipe.hlen(keys.rejected(account))
        answers = pipe.execute() if shown else []
        pending = GaugeMetricFamily(m.CONTACTS_PENDING.name, m.CONTACTS_PENDING.help,
                                    labels=["account"])
        running = GaugeMetricFamily(m.BATCH_RUNNING.name, m.BATCH_RUNNING.help,
                                    labels=["account"])
        rejected = GaugeMetricFamily(m.REJECTED_CONTACTS.name, m.REJECTED_CONTACTS.help,
                                     labels=["account"])
        for i, account in enumerate(shown):
            pending.add_metric([account], int(answers[3 * i]))
            running.add_metric([account], 1 if answers[3 * i + 1] else 0)
            rejected.add_metric([account], int(answers[3 * i + 2]))
        totals = [GaugeMetricFamily(metric.name, metric.help, value=value) for metric, value in (
            (m.ACCOUNTS, known), (m.ACCOUNTS_ACTIVE, active_count),
            (m.ACCOUNTS_REJECTING, rejecting_count))]
        messages = GaugeMetricFamily(m.QUEUE_MESSAGES.name, m.QUEUE_MESSAGES.help,
                                     labels=["queue"])
        delayed = GaugeMetricFamily(m.QUEUE_DELAYED.name, m.QUEUE_DELAYED.help,
                                    labels=["queue"])
        dead = GaugeMetricFamily(m.DEAD_LETTERS.name, m.DEAD_LETTERS.help, labels=["queue"])
        try:
            depths = queue_depths(client)
        except BrokerUnavailable as error:  # RabbitMQ: the queue series are left out
            log.warning("/metrics could not read the queues: %s", error)
            depths = []
        for depth in depths:
            messages.add_metric([depth.queue], depth.messages)
            delayed.add_metric([depth.queue], depth.delayed)
            dead.add_metric([depth.queue], depth.dead)
        backlog = GaugeMetricFamily(m.EVENTS_BACKLOG.name, m.EVENTS_BACKLOG.help,
                                    value=events_backlog(client))
        refused = GaugeMetricFamily(m.ACCOUNTS_REFUSED.name, m.ACCOUNTS_REFUSED.help,
                                    value=int(client.scard(keys.REFUSED_ACCOUNTS)))
        return [pending, running, rejected, *totals, messages, delayed, dead, backlog, refused]


_installed: set[int] = set()
_install_lock = Lock()


def install_state_collector(
    client_factory: Callable[[], redis.Redis] | None = None,
    registry: CollectorRegistry = REGISTRY,
    account_series: int = DEFAULT_ACCOUNT_SERIES,
) -> None:
    """Register the Redis collector on ``registry`` once (default: ``get_redis``)."""
    with _install_lock:
        if id(registry) in _installed:
            return
        if client_factory is None:
            from shared.redis_client import get_redis

            client_factory = get_redis
        registry.register(RedisStateCollector(client_factory, account_series))
        _installed.add(id(registry))


def render_metrics(
    registry: CollectorRegistry = REGISTRY,
    client_factory: Callable[[], redis.Redis] | None = None,
    account_series: int = DEFAULT_ACCOUNT_SERIES,
) -> tuple[bytes, str]:
    """The body and content type of a ``/metrics`` answer (installs the collector)."""
    install_state_collector(client_factory, registry, account_series)
    return _generate_latest(registry), CONTENT_TYPE_LATEST
