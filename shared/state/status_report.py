"""What ``contact-sync status`` reports: the service's state, read from Redis in one go.

Per account: contacts pending (and how many came through a bulk export), the running
batch with its progress, the last batch's report, when the next batch is due, rejected
contacts. For the service: Dramatiq queue depths (waiting, delayed, dead), the events
backlog, recent Klaviyo 429s and the endpoints currently blocked by one, and whether a
scheduler is ticking.
"""

from __future__ import annotations

import time
from typing import Any

import redis

from shared import constants as keys
from shared.klaviyo.rate_limiter import blocked_now
from shared.state import heartbeats
from shared.state.account_status import account_statuses, known_accounts
from shared.telemetry.broker_stats import events_backlog, queue_depths
from shared.telemetry.metrics import recent_throttles

RECENT_SECONDS = 3600
"""The window of "recent" 429s."""


def build_status(client: redis.Redis, now: float | None = None) -> dict[str, Any]:
    """The whole report, as plain data (what ``status --json`` prints)."""
    now = time.time() if now is None else now
    depths = queue_depths(client)
    throttles = recent_throttles(client, now - RECENT_SECONDS)
    by_operation: dict[str, int] = {}
    for entry in throttles:
        operation = str(entry.get("operation"))
        by_operation[operation] = by_operation.get(operation, 0) + 1
    return {
        "at": now,
        "accounts": account_statuses(client, known_accounts(client), now),
        "queues": [depth.as_dict() for depth in depths],
        "dead_letters": sum(depth.dead for depth in depths),
        # Stream entries the collector could not read (kept as they came, in
        # sync:events:dead): a CRM or publisher bug to look into, not a Dramatiq message.
        "dead_events": int(client.xlen(keys.EVENTS_DEAD)),
        "events_backlog": events_backlog(client),
        "throttled": {
            "window_seconds": RECENT_SECONDS,
            "count": len(throttles),
            "by_operation": by_operation,
            "last_at": throttles[0]["at"] if throttles else None,
            "blocked": blocked_now(client),
        },
        "scheduler_alive": bool(client.exists(keys.SCHEDULER_HEARTBEAT)),
        "processes": heartbeats.alive(client, now),
    }


__all__ = ["RECENT_SECONDS", "account_statuses", "build_status", "known_accounts"]
