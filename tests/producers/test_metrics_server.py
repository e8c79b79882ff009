"""``/metrics`` of a real ``contact-sync web`` (issue 19, finding 6): on its own loopback
port only, a cost per scrape that does not grow with the number of accounts, and no series
of a deleted account."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import redis
from prometheus_client.parser import text_string_to_metric_families

from shared import constants as keys
from shared.redis_server import free_port
from shared.settings import Settings
from shared.state import due_accounts
from shared.state.account_purge import forget_account
from shared.telemetry import metrics
from tests.security.web_process import web_process

SERIES = 10


@contextmanager
def web_with_metrics(tmp_path: Path, redis_url: str) -> Iterator[tuple[str, str, Path]]:
    metrics_port = free_port()
    log = tmp_path / "web.log"
    env = {"REDIS_URL": redis_url, "SYNC_WEBHOOK_SECRET": "whsec-metrics",
           "SYNC_METRICS_PORT": str(metrics_port),
           "SYNC_METRICS_ACCOUNT_SERIES": str(SERIES)}
    with web_process(env, log) as (port, _process):
        yield f"http://127.0.0.1:{port}", f"http://127.0.0.1:{metrics_port}/metrics", log


def _samples(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(url, timeout=30).text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def _add_busy_accounts(r: redis.Redis, start: int, count: int) -> None:
    pipe = r.pipeline(transaction=False)
    for n in range(start, start + count):
        account = f"tenant-{n:05d}"
        pipe.sadd(keys.ACCOUNTS_SET, account)
        pipe.zadd(keys.pending(account), {"c-1": 1.0, "c-2": 2.0})
        due_accounts.look_at(pipe, account, float(n))
    pipe.execute()


def _commands(r: redis.Redis) -> int:
    stats = r.info("commandstats")
    return sum(int(value["calls"]) for value in stats.values())


def _scrape_cost(r: redis.Redis, url: str) -> int:
    """Redis commands of one scrape (the smallest of three: a heartbeat may fall in one)."""
    costs = []
    for _ in range(3):
        before = _commands(r)
        httpx.get(url, timeout=30)
        costs.append(_commands(r) - before - 2)  # the two INFO calls of this measure
    return min(costs)


def test_metrics_are_served_on_a_loopback_port_only(tmp_path: Path, redis_url: str) -> None:
    assert Settings.model_validate({}).metrics_host == "127.0.0.1"
    with web_with_metrics(tmp_path, redis_url) as (public, metrics_url, log):
        assert httpx.get(f"{public}/metrics", timeout=30).status_code == 404
        answer = httpx.get(metrics_url, timeout=30)
        assert answer.status_code == 200
        assert "contact_sync_redis_up 1.0" in answer.text
    assert f"/metrics on http://127.0.0.1:{metrics_url.split(':')[2]}" in log.read_text()


def test_a_scrape_costs_the_same_for_200_or_2000_busy_accounts(
        tmp_path: Path, redis_url: str, r: redis.Redis) -> None:
    """Before, a scrape read every account (issue 19: 50k accounts, 16 scrapes: 25 s,
    1.2 GB); now at most SERIES accounts get per-account series, the rest are counted."""
    with web_with_metrics(tmp_path, redis_url) as (_public, metrics_url, _log):
        _add_busy_accounts(r, 0, 200)
        httpx.get(metrics_url, timeout=30)
        small = _scrape_cost(r, metrics_url)
        _add_busy_accounts(r, 200, 1800)

        time.sleep(1.1)  # past the shared rendering
        large = _scrape_cost(r, metrics_url)
        seen = _samples(metrics_url)
    pending = {labels for name, labels in seen if name == "contact_sync_contacts_pending"}
    assert len(pending) == SERIES
    assert seen[("contact_sync_accounts", ())] == 2000
    assert seen[("contact_sync_accounts_active", ())] == 2000
    assert large <= small + 2, (small, large)
    assert large <= 5 + 6 * SERIES + 30  # + the queue depths' commands


def test_a_deleted_accounts_series_go(tmp_path: Path, redis_url: str,
                                      r: redis.Redis) -> None:
    metrics.record_batch(r, "gone-tenant", "completed", 3.0, contacts=4)
    metrics.record_batch(r, "kept-tenant", "completed", 3.0, contacts=2)
    with web_with_metrics(tmp_path, redis_url) as (_public, metrics_url, _log):
        before = _samples(metrics_url)
        assert before[("contact_sync_contacts_synced_total",
                       (("account", "gone-tenant"),))] == 4
        forget_account(r, "gone-tenant")

        time.sleep(1.1)
        after = _samples(metrics_url)
    assert not [key for key in after if ("account", "gone-tenant") in key[1]]
    assert after[("contact_sync_contacts_synced_total", (("account", "kept-tenant"),))] == 2
