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
from shared.telemetry.broker_stats import events_backlog, queue_depths
from shared.telemetry.metrics import recent_throttles
from workers import batch_lifecycle as lifecycle

RECENT_SECONDS = 3600
"""The window of "recent" 429s."""
NOT_PROGRESS = {"planned", "initial"}
BATCH_FIELDS = {"batch_id", "status", "started_at", "completed_at", "size", "bulk", "report"}


def _accounts(client: redis.Redis) -> list[str]:
    members = {_text(name) for name in client.smembers(keys.ACCOUNTS_SET)}
    return sorted(members | {"default"})


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _progress(info: dict[str, Any]) -> dict[str, int]:
    """The running batch's counters beyond the basics (what the batch actors record):
    numbers only -- other fields (e.g. planned email changes) may hold personal data."""
    progress: dict[str, int] = {}
    for name, value in info.items():
        if name in BATCH_FIELDS or name in NOT_PROGRESS:
            continue
        try:
            progress[name] = int(value)
        except (TypeError, ValueError):
            continue
    return progress


def account_status(client: redis.Redis, account: str, now: float) -> dict[str, Any]:
    state = lifecycle.account_state(client, account)
    running_id = state.get("running")
    running = lifecycle.batch_info(client, account, running_id) if running_id else {}
    if running:
        running = {**{k: v for k, v in running.items() if k in BATCH_FIELDS},
                   "progress": _progress(running),
                   "enqueued_at": state.get("enqueued_at")}
    last_id = state.get("last_batch")
    last = lifecycle.batch_info(client, account, last_id) if last_id else {}
    pending = int(client.zcard(keys.pending(account)))
    next_due = state.get("next_due")
    refused = state.get("connection") == "refused"
    if running:
        due = "after the running batch"
    elif refused and pending:
        due = "retried at next_due (Klaviyo refuses the account's credentials)"
    elif not pending:
        due = "when a contact changes"
    elif state.get("force") or next_due is None or next_due <= now:
        due = "now"
    else:
        due = "at next_due"
    return {
        "account": account,
        "pending": pending,
        "pending_bulk": int(client.zcard(keys.pending_bulk(account))),
        "running": running or None,
        "last_batch": last or None,
        "next_due": next_due,
        "due": due,
        "rejected": int(client.hlen(keys.rejected(account))),
        "connection": {
            "state": "refused" if refused else "ok",
            "code": state.get("connection_code") if refused else None,
            "detail": state.get("connection_detail") if refused else None,
            "since": float(state["connection_since"]) if refused
            and state.get("connection_since") else None,
        },
        "default_list_missing": state.get("list_missing") or None,
        "owed_default_list": int(client.scard(keys.list_owed(account))),
    }


def _blocked(client: redis.Redis) -> list[dict[str, Any]]:
    """Klaviyo (account, operation) pairs waiting out a 429's Retry-After right now."""
    now = time.time()
    found: list[Any] = client.zrangebyscore(  # type: ignore[assignment]
        keys.RATE_LIMIT_BLOCKS, now, "+inf", withscores=True)
    blocked = []
    for member, until in found:
        klaviyo_account, _, operation = _text(member).partition("\t")
        blocked.append({"klaviyo_account": klaviyo_account, "operation": operation,
                        "seconds_left": max(0.0, float(until) - now)})
    return sorted(blocked, key=lambda item: (item["klaviyo_account"], item["operation"]))


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
        "accounts": [account_status(client, name, now) for name in _accounts(client)],
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
            "blocked": _blocked(client),
        },
        "scheduler_alive": bool(client.exists(keys.SCHEDULER_HEARTBEAT)),
    }
