"""An account's syncs: the history (newest first), one sync's detail, ``sync-now``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import redis

from shared import constants as keys
from shared.account_service.accounts import existing, why_not_syncable
from shared.account_service.errors import Conflict, NotFound, invalid_field
from shared.account_service.models import ContactOutcome, SyncDetail, SyncRequested, SyncSummary
from shared.settings import Settings
from shared.state import account_state, batch_history
from shared.state.batch_details import read_details

HISTORY_KEPT = 100
"""Batches kept per account (:data:`workers.push.lifecycle.BATCHES_KEPT`)."""
DEFAULT_LIMIT = 20


def _when(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


def summary_of(info: dict[str, Any]) -> SyncSummary:
    """A :func:`shared.state.batch_history.batch_info` as the API shows it."""
    report = dict(info.get("report") or {})
    error = report.pop("error", None)
    started, completed = info.get("started_at"), info.get("completed_at")
    return SyncSummary(
        batch_id=info["batch_id"], status=str(info.get("status") or "unknown"),
        started_at=_when(started), completed_at=_when(completed),
        duration_s=None if started is None or completed is None else round(
            completed - started, 3),
        counts={name: int(value) for name, value in report.items()
                if isinstance(value, int | float) and value},
        error=None if error is None else str(error))


def history(client: redis.Redis, settings: Settings, name: str,
            limit: int = DEFAULT_LIMIT) -> list[SyncSummary]:
    existing(client, settings, name)
    if not 1 <= limit <= HISTORY_KEPT:
        raise invalid_field("limit", f"must be between 1 and {HISTORY_KEPT}")
    return [summary_of(info) for info in batch_history.recent_batches(client, name, limit)]


def detail(client: redis.Redis, settings: Settings, name: str, batch_id: str) -> SyncDetail:
    existing(client, settings, name)
    info = batch_history.batch_info(client, name, batch_id)
    if not info:
        raise NotFound(f"account {name!r} has no sync {batch_id!r} (the newest "
                       f"{HISTORY_KEPT} are kept)")
    contacts = [ContactOutcome(contact_id=item.contact_id, outcome=item.outcome,
                               reason=item.reason)
                for item in read_details(client, name, batch_id)]
    return SyncDetail(**summary_of(info).model_dump(), contacts=contacts)


def sync_now(client: redis.Redis, settings: Settings, name: str) -> SyncRequested:
    """The account's next batch starts at the scheduler's next tick (or as soon as the
    running one completes); an account that cannot sync is a :class:`Conflict`."""
    config = existing(client, settings, name)
    reason = why_not_syncable(config)
    if reason:
        raise Conflict(reason, cli_detail=config.unsyncable_reason)
    pending = int(client.zcard(keys.pending(name)))
    running = account_state.running_batch(client, name)
    if running:
        detail = (f"batch {running} is running; {pending} pending contact(s) will start the "
                  "next batch as soon as it completes")
    elif pending:
        detail = f"{pending} pending contact(s); a batch starts at the scheduler's next tick"
    else:
        detail = "nothing pending; no batch to start"
    if running or pending:
        account_state.request_sync_now(client, name)
    return SyncRequested(account=name, requested=bool(running or pending), pending=pending,
                         running_batch=running, detail=detail)
