"""``sync_batch``: plan a started batch, apply email changes, hand chunks to ``upsert_chunk``.

Resumable: the plan is written a slice at a time with its progress
(:mod:`workers.push.plan.stream`), over as many runs as it takes (each re-sends the message),
then the ``planned`` flag is set; email changes record their progress; a redelivered
message picks up where the last one stopped. Messages carry ids only.
"""

from __future__ import annotations

import logging
import time

import dramatiq
import redis

from shared import freed_memory
from shared.consent import ledger as consent_ledger
from shared.identity import IdentityMap
from shared.klaviyo.errors import Conflict, RateLimited
from shared.planning.planner import EmailChange
from shared.state.batch_details import record_details
from shared.state.batch_record import (
    Batch,
    add_counts,
    is_planned,
    is_running,
    read_batch,
    set_email_changes_done,
)
from shared.state.chunk_record import chunk_id as chunk_id_of
from shared.state.chunk_record import not_done
from shared.state.plan_record import email_change, email_change_count
from workers.push.deliver import chunk as chunk_actors
from workers.push.deliver.identity_ops import lookup_profiles
from workers.push.failures import stops_on_account_problems
from workers.push.lifecycle import finish_batch
from workers.push.plan.stream import RUN_SECONDS, StreamPlanner
from workers.runtime.actor_context import (
    Klaviyo,
    account_config,
    klaviyo_for,
    redis_for_actors,
    resend,
)

log = logging.getLogger(__name__)


def _apply_email_change(client: redis.Redis, klaviyo: Klaviyo, account: str,
                        change: EmailChange) -> str | None:
    """PATCH the contact's known profile to the new email. Returns a conflict reason, or
    None (applied, or nothing to change: the old profile is unknown to Klaviyo)."""
    identity = IdentityMap(client, account)
    known = identity.profiles_of_contacts([change.contact_id]).get(change.contact_id)
    found = lookup_profiles(klaviyo, [change.old_email, change.new_email])
    profile_id = known or found.get(change.old_email)
    owner = identity.profiles_of_emails([change.new_email]).get(change.new_email)
    owner_id = found.get(change.new_email) or owner
    if profile_id is None:
        return None
    if owner_id and owner_id != profile_id:
        return "the new email already belongs to another Klaviyo profile"
    if owner_id == profile_id:
        return None
    body = {"data": {"type": "profile", "id": profile_id,
                     "attributes": {"email": change.new_email}}}
    try:
        klaviyo.gateway.call("update_profile", klaviyo.api.Profiles.update_profile,
                             profile_id, body)
    except Conflict:
        return "the new email already belongs to another Klaviyo profile (409)"
    identity.move_email(change.contact_id, change.old_email, change.new_email, profile_id)
    return None


def _email_changes(client: redis.Redis, account: str, batch: Batch) -> bool:
    """Apply pending email changes in order; False when rate-limited (re-sent later)."""
    batch_id = batch.batch_id
    total = email_change_count(client, account, batch_id)
    if batch.email_changes_done >= total:
        return True
    klaviyo = klaviyo_for(client, account_config(client, account))
    for index in range(batch.email_changes_done, total):
        change = EmailChange(**email_change(client, account, batch_id, index))
        try:
            conflict = _apply_email_change(client, klaviyo, account, change)
        except RateLimited as limited:
            resend(sync_batch, (account, batch_id), limited.retry_in)
            return False
        with client.pipeline(transaction=True) as pipe:
            # the old email's consent record (the contact is recorded under the new one when
            # its chunk is sent), so no old email is kept
            consent_ledger.drop_contacts(pipe, account, [(change.old_email, change.contact_id)])
            if conflict:
                record_details(pipe, account, batch_id, {change.contact_id: {
                    "outcome": "conflict", "reason": conflict}})
                add_counts(pipe, account, batch_id, {"conflicts": 1})
            set_email_changes_done(pipe, account, batch_id, index + 1)
            pipe.execute()
    return True


def send_batch(account: str, batch_id: str) -> None:
    """Hand a started batch to :func:`sync_batch` (the scheduler's enqueue; the broker must
    be set up: :func:`workers.runtime.broker.setup_broker`)."""
    sync_batch.send(account, batch_id)


@dramatiq.actor(max_retries=10, time_limit=5 * 60_000)
@stops_on_account_problems
def sync_batch(account: str, batch_id: str) -> None:
    """Plan the batch, apply email changes, send its chunks (or complete it at once)."""
    client = redis_for_actors()
    if not is_running(client, account, batch_id):
        return  # completed or unknown: a late redelivery
    if not is_planned(client, account, batch_id):
        outcome = StreamPlanner(client, account, batch_id).run(
            time.monotonic() + RUN_SECONDS)
        freed_memory.release()  # the run's slices: its thread's heap would keep them
        if outcome == "more":
            sync_batch.send(account, batch_id)  # the plan goes on in a fresh message
        if outcome != "done":
            return
    batch = read_batch(client, account, batch_id)
    if batch is None or not _email_changes(client, account, batch):
        return
    if batch.chunks_total == 0:
        finish_batch(client, account, batch_id)
        return
    # A first sync posted its chunks as they were planned (workers/push/plan/stream.py):
    # only those a crash kept from being sent are left.
    first = batch.chunks_sent if batch.streamed else 0
    ids = [chunk_id_of(index) for index in range(first, batch.chunks_total)]
    chunk_actors.post_chunks(account, batch_id, not_done(client, account, batch_id, ids))
    log.info("batch %s of %s: %d chunks sent", batch_id, account, batch.chunks_total)
