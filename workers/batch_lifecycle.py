"""The life of a batch in Redis: pending -> running -> completed (or failed).

Starting and completing are single Lua scripts (``start_batch.lua``, ``complete_batch.lua``
beside this module), so a crash between steps can neither lose nor double a change, and at
most one batch per account runs, whatever number of schedulers and workers there are.

State of an account (hash :func:`shared.constants.state`): ``running`` (batch id or absent),
``started_at``, ``enqueued_at`` (the scheduler handed it to Dramatiq), ``completed_at``,
``next_due``, ``last_batch``, ``last_completed``, ``force`` (``sync-now``).
"""

from __future__ import annotations

import json
from typing import Any

import redis

from shared import constants as keys
from shared.accounts import AccountError, AccountStore
from shared.lua_scripts import lua_script
from shared.redis_text import as_text
from shared.settings import get_settings
from shared.state import due_accounts
from shared.state.batch_history import (  # the readers live in the state layer
    account_state,
    batch_info,
    last_completed,
    recent_batches,
    request_sync_now,
    running_batch,
)
from shared.state.batch_record import chunks_total
from shared.state.batch_records import BatchStatus, chunk_key
from shared.telemetry.metrics import record_batch

BATCHES_KEPT = 100
"""How many batches of an account are kept as history (newest first); older ones, their
details and member sets are deleted when a batch ends."""
SENT_COUNTS = ("created", "updated")
"""Report counts of contacts sent to Klaviyo (the ``contacts_synced`` metric)."""
MEMBERS_KEPT_SECONDS = 0
"""How long a finished batch's member sets stay, then Redis drops them: not at all (0: at
once). Nothing reads them once the batch ended (a failed batch's members are back in
pending; what happened to each contact is in the batch's details), and they cost ~110 B per
contact of the batch (docs/PERFORMANCE.md, "Redis memory per contact"); they used to stay
an hour for inspection."""


START_BATCH = lua_script(__file__, "start_batch.lua")
COMPLETE_BATCH = lua_script(__file__, "complete_batch.lua")


def start_batch(client: redis.Redis, account: str, batch_id: str, now: float) -> int:
    """Move pending into a new running batch; returns its size (0 = nothing started: a
    batch is running, or nothing is pending)."""
    size = START_BATCH(
        client,
        keys=[
            keys.state(account),
            keys.pending(account),
            keys.pending_bulk(account),
            keys.batch_members(account, batch_id),
            keys.batch_members_bulk(account, batch_id),
            keys.batch(account, batch_id),
            keys.batches(account),
        ],
        args=[batch_id, repr(now)],
    )
    if size:  # a running batch's account stays in the index (/metrics reads it there)
        due_accounts.note_pending(client, account)
    return int(size)


def _finish(
    client: redis.Redis,
    account: str,
    batch_id: str,
    report: dict[str, Any],
    now: float,
    interval: float | None,
    status: str,
) -> bool:
    if interval is None:
        settings = get_settings()
        try:
            interval = AccountStore(client, settings).get(account).interval
        except AccountError:  # removed while its batch ran: the environment's interval
            interval = settings.interval
    done = COMPLETE_BATCH(
        client,
        keys=[
            keys.state(account),
            keys.batch(account, batch_id),
            keys.batch_members(account, batch_id),
            keys.batch_members_bulk(account, batch_id),
            keys.pending(account),
            keys.pending_bulk(account),
        ],
        args=[batch_id, repr(now), json.dumps(report), repr(interval), status,
              MEMBERS_KEPT_SECONDS],
    )
    if not done:
        return False
    _retire(client, account, batch_id)
    forced = client.hexists(keys.state(account), "force")  # sync-now during the batch
    due_accounts.look_at(client, account, due_accounts.ASAP if forced else now + interval)
    started_at = float(done[0])
    sent = sum(int(report.get(name, 0)) for name in SENT_COUNTS)
    record_batch(client, account, status, now - started_at, contacts=sent)
    return True


def _retire(client: redis.Redis, account: str, batch_id: str,
            keep: int = BATCHES_KEPT) -> None:
    """Drop what an ended batch no longer needs -- its chunk records (rows, job ids) and its
    planned email changes -- and the history beyond the newest ``keep`` batches, so that
    nothing an account accumulates grows with time."""
    total = chunks_total(client, account, batch_id)
    older: list[Any] = client.lrange(keys.batches(account), keep, -1)  # type: ignore[assignment]
    doomed = [chunk_key(account, batch_id, index) for index in range(total)]
    doomed += [keys.batch_email_changes(account, batch_id),
               *keys.batch_plan_keys(account, batch_id)]
    for old in (as_text(item) for item in older):
        doomed += [keys.batch(account, old), keys.batch_details(account, old),
                   keys.batch_members(account, old), keys.batch_members_bulk(account, old)]
    pipe = client.pipeline(transaction=False)
    for start in range(0, len(doomed), 1_000):
        # DEL as a plain command: a Redis Cluster pipeline's delete() takes one key only;
        # these are all the account's (one slot).
        pipe.execute_command("DEL", *doomed[start:start + 1_000])  # type: ignore[no-untyped-call]
    pipe.hdel(keys.batch(account, batch_id), "email_changes")
    if older:
        pipe.ltrim(keys.batches(account), 0, keep - 1)
    pipe.execute()


def complete_batch(
    client: redis.Redis,
    account: str,
    batch_id: str,
    report: dict[str, int],
    now: float,
    *,
    interval: float | None = None,
) -> bool:
    """Mark the running batch completed with its report; the account's next batch is due
    ``interval`` later (default: the account's configured interval). Returns False when
    this batch is not the running one (a repeated call changes nothing). Records the
    batch metrics (``contact_sync_batches_total`` ...) exactly once per batch."""
    return _finish(client, account, batch_id, dict(report), now, interval, BatchStatus.COMPLETED)


def fail_batch(
    client: redis.Redis,
    account: str,
    batch_id: str,
    reason: str,
    now: float,
    *,
    interval: float | None = None,
) -> bool:
    """Give up on the running batch: its members go back into pending (nothing is lost)
    and the account is retried one interval later. ``reason`` must hold no personal data."""
    return _finish(client, account, batch_id, {"error": reason}, now, interval, BatchStatus.FAILED)


def mark_enqueued(client: redis.Redis, account: str, batch_id: str, now: float) -> bool:
    """Record that the running batch was handed to the batch actor (crash recovery)."""
    state_key = keys.state(account)
    if running_batch(client, account) != batch_id:
        return False
    client.hset(state_key, "enqueued_at", repr(now))
    return True


__all__ = ["BATCHES_KEPT", "account_state", "batch_info", "complete_batch",
           "fail_batch", "last_completed", "mark_enqueued", "recent_batches",
           "request_sync_now", "running_batch", "start_batch"]
