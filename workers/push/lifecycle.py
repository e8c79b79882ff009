"""The life of a batch in Redis: pending -> running -> completed (or failed).

Each step is one Lua script beside this module, so a crash between steps can neither lose
nor double a change, and at most one batch per account runs, whatever number of schedulers
and workers there are:

* :func:`start_batch` (``start_batch.lua``, the scheduler): pending -> a new running batch;
* :func:`chunk_done` (``chunk_done.lua``, ``upsert_chunk``): a chunk counted once; the last
  one completes the batch (:func:`finish_batch`, also ``sync_batch``'s for a batch with no
  chunk);
* :func:`complete_batch` / :func:`fail_batch` (``complete_batch.lua``): the batch ends, its
  report is kept, the account's next batch is due an interval later.

The account's state (``running``, ``next_due``, ...) is the record of
:mod:`shared.state.account_state`; the batch's, of :mod:`shared.state.batch_record`.
"""

from __future__ import annotations

import json
import time
from typing import Any

import redis

from shared import constants as keys
from shared.accounts import AccountError, AccountStore
from shared.lua_scripts import lua_script
from shared.redis_text import as_text
from shared.settings import get_settings
from shared.state import account_health as health
from shared.state import due_accounts
from shared.state.account_state import (
    account_state,
    is_forced,
    mark_enqueued,
    request_sync_now,
    running_batch,
)
from shared.state.batch_history import batch_info, last_completed, recent_batches
from shared.state.batch_record import Batch, BatchStatus, chunks_total, count_args, read_batch
from shared.state.chunk_record import chunk_key
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
CHUNK_DONE = lua_script(__file__, "chunk_done.lua")


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
    forced = is_forced(client, account)  # sync-now during the batch
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
    older: list[Any] = client.lrange(keys.batches(account), keep, -1)
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


def chunk_done(client: redis.Redis, account: str, batch_id: str, chunk_id: str,
               counts: dict[str, int]) -> None:
    """Mark the chunk done and add its counts -- once, however often it is redelivered --
    then complete the batch if every chunk is done (the completion is idempotent too)."""
    done, total = CHUNK_DONE(
        client,
        keys=[keys.chunk(account, batch_id, chunk_id), keys.batch(account, batch_id)],
        args=count_args(counts),
    )
    if int(done) >= int(total):
        finish_batch(client, account, batch_id)


def finish_batch(client: redis.Redis, account: str, batch_id: str) -> None:
    """Complete the batch with the report of its counts (and clear a refusal of its
    account); nothing when it is not running any more."""
    batch = read_batch(client, account, batch_id) or Batch(batch_id, status=None)
    if complete_batch(client, account, batch_id, batch.final_report(), time.time()):
        health.clear_refused(client, account)


__all__ = ["BATCHES_KEPT", "account_state", "batch_info", "chunk_done", "complete_batch",
           "fail_batch", "finish_batch", "last_completed", "mark_enqueued", "recent_batches",
           "request_sync_now", "running_batch", "start_batch"]
