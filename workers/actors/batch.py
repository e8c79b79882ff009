"""``sync_batch``: plan a started batch, apply email changes, hand chunks to ``upsert_chunk``.

Resumable: the plan is written once (WATCH on the batch hash, ``planned`` flag) together
with its chunks; email changes record their progress; a redelivered message picks up where
the last one stopped. Messages carry ids only.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import dramatiq
import orjson
import redis

from shared import constants as keys
from shared.accounts import AccountConfig
from shared.events import MirroredContact
from shared.klaviyo.errors import Conflict, RateLimited
from shared.phones import normalise_phone
from shared.redis_text import as_text
from shared.settings import get_settings
from shared.state import account_health as health
from shared.state.contact_mirror import READ_STEP, read_mirrors
from workers.actors import chunk as chunk_actors
from workers.actors.common import (
    COUNT_PREFIX,
    Klaviyo,
    account_config,
    finish_batch,
    hash_of,
    klaviyo_for,
    record_details,
    redis_for_actors,
    resend,
    stops_on_account_problems,
)
from workers.actors.deletes import delete_chunks
from workers.actors.identity_ops import lookup_profiles
from workers.batch_planner import (
    Context,
    EmailChange,
    Member,
    Plan,
    SyncedRecord,
    plan_batch,
)
from workers.chunking import limits, profile_resource, split

log = logging.getLogger(__name__)


def _mirrors(client: redis.Redis, account: str, ids: list[str]
             ) -> tuple[dict[str, MirroredContact], dict[str, SyncedRecord], dict[str, str]]:
    """The mirrored states and synced records of ``ids``; unreadable mirrors are reported
    with their reason, not raised (:func:`shared.state.contact_mirror.read_mirrors`)."""
    contacts, unreadable = read_mirrors(client, account, ids)
    synced: dict[str, SyncedRecord] = {}
    for start in range(0, len(ids), READ_STEP):
        part = ids[start:start + READ_STEP]
        records: list[Any] = client.hmget(keys.synced_contacts(account), part)  # type: ignore[assignment]
        synced.update({cid: SyncedRecord.load(record)
                       for cid, record in zip(part, records, strict=True) if record is not None})
    return contacts, synced, unreadable


def _phone_owners(client: redis.Redis, account: str, config: AccountConfig,
                  contacts: dict[str, MirroredContact]) -> dict[str, str]:
    phones = sorted({p.e164 for c in contacts.values()
                     if (p := normalise_phone(c.contact.phone, config.phone_region)).e164})
    owners: dict[str, str] = {}
    for start in range(0, len(phones), 5000):
        part = phones[start:start + 5000]
        values: list[Any] = client.hmget(keys.phone_owners(account), part)  # type: ignore[assignment]
        owners.update({ph: as_text(v) for ph, v in zip(part, values, strict=True) if v})
    return owners


def _load_plan_inputs(client: redis.Redis, account: str, batch_id: str, config: AccountConfig
                      ) -> tuple[list[Member], dict[str, MirroredContact],
                                 dict[str, SyncedRecord], bool, Context]:
    scored: list[Any] = client.zrange(keys.batch_members(account, batch_id), 0, -1,
                                      withscores=True)  # type: ignore[assignment]
    bulk = {as_text(m) for m in client.zrange(keys.batch_members_bulk(account, batch_id),
                                              0, -1)}  # type: ignore[union-attr]
    members = [Member(as_text(m), float(s), as_text(m) in bulk) for m, s in scored]
    ids = [m.contact_id for m in members]
    contacts, synced, unreadable = _mirrors(client, account, ids)
    initial = client.hget(keys.state(account), "completed_at") is None
    missing = health.missing_list(client, account)
    context = Context(
        phone_owners=_phone_owners(client, account, config, contacts),
        owed_list=frozenset(health.owed(client, account, ids)),
        list_missing=bool(config.default_list_id) and missing == config.default_list_id,
        unreadable=unreadable)
    return members, contacts, synced, initial, context


def _chunks(plan: Plan, list_id: str | None) -> list[dict[str, Any]]:
    """The chunk hashes of a plan: imports with the default list (first-time contacts not
    unsubscribed, and those owed the list), imports without it, then the deletes
    (:func:`workers.actors.deletes.delete_chunks`)."""
    max_profiles, max_bytes = limits(get_settings().tuning)
    with_list = [r for r in plan.rows if list_id and r.join_list]
    without = [r for r in plan.rows if not (list_id and r.join_list)]
    chunks: list[dict[str, Any]] = []
    for rows, target in ((with_list, list_id), (without, None)):
        resources = [profile_resource(r.attributes) for r in rows]
        for start, end in split(resources, max_profiles, max_bytes):
            chunks.append({"kind": "import", "status": "planned", "list_id": target or "",
                           "payload": orjson.dumps(resources[start:end]),
                           "rows": orjson.dumps([r.to_json() for r in rows[start:end]])})
    chunks.extend(delete_chunks(plan.deletes))
    return chunks


def _write_plan(client: redis.Redis, account: str, batch_id: str) -> None:
    batch_key = keys.batch(account, batch_id)
    config = account_config(client, account)
    members, contacts, synced, initial, context = _load_plan_inputs(
        client, account, batch_id, config)
    plan = plan_batch(config, members, contacts, synced, initial, context)
    chunks = _chunks(plan, config.default_list_id)
    with client.pipeline(transaction=True) as pipe:
        pipe_: Any = pipe
        try:
            pipe_.watch(batch_key)
            if pipe.hget(batch_key, "planned"):
                return
            pipe.multi()
            for index, chunk in enumerate(chunks):
                pipe_.hset(keys.chunk(account, batch_id, f"c{index:05d}"), mapping=chunk)
            record_details(pipe, account, batch_id, plan.details)
            if plan.held_back:
                now = time.time()
                pipe.zadd(keys.held_back(account), {cid: now for cid in plan.held_back})
            if plan.phone_claims:
                pipe.hset(keys.phone_owners(account),
                          mapping=plan.phone_claims)  # type: ignore[arg-type]
            health.owe_list(pipe, account, plan.owe_list)
            counts: dict[Any, Any] = {COUNT_PREFIX + k: v for k, v in plan.counts.items()}
            pipe.hset(batch_key, mapping={
                **counts, "planned": "1", "chunks_total": len(chunks), "chunks_done": 0,
                "email_changes": json.dumps([c.__dict__ for c in plan.email_changes]),
                "email_changes_done": 0, "initial": int(initial)})
            pipe.execute()
        except redis.WatchError:
            return  # another delivery planned it meanwhile


def _apply_email_change(client: redis.Redis, klaviyo: Klaviyo, account: str,
                        change: EmailChange) -> str | None:
    """PATCH the contact's known profile to the new email. Returns a conflict reason, or
    None (applied, or nothing to change: the old profile is unknown to Klaviyo)."""
    known = client.hget(keys.identity_by_contact(account), change.contact_id)
    found = lookup_profiles(klaviyo, [change.old_email, change.new_email])
    profile_id = as_text(known) if known else found.get(change.old_email)
    owner = client.hget(keys.identity_by_email(account), change.new_email)
    owner_id = found.get(change.new_email) or (as_text(owner) if owner else None)
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
    with client.pipeline(transaction=True) as pipe:
        pipe.hdel(keys.identity_by_email(account), change.old_email)
        pipe.hset(keys.identity_by_email(account), change.new_email, profile_id)
        pipe.hset(keys.identity_by_contact(account), change.contact_id, profile_id)
        pipe.execute()
    return None


def _email_changes(client: redis.Redis, account: str, batch_id: str,
                   fields: dict[str, str]) -> bool:
    """Apply pending email changes in order; False when rate-limited (re-sent later)."""
    changes = [EmailChange(**c) for c in json.loads(fields.get("email_changes", "[]"))]
    done = int(fields.get("email_changes_done", 0))
    if done >= len(changes):
        return True
    klaviyo = klaviyo_for(client, account_config(client, account))
    batch_key = keys.batch(account, batch_id)
    for index in range(done, len(changes)):
        change = changes[index]
        try:
            conflict = _apply_email_change(client, klaviyo, account, change)
        except RateLimited as limited:
            resend(sync_batch, (account, batch_id), limited.retry_in)
            return False
        with client.pipeline(transaction=True) as pipe:
            if conflict:
                record_details(pipe, account, batch_id, {change.contact_id: {
                    "outcome": "conflict", "reason": conflict}})
                pipe.hincrby(batch_key, COUNT_PREFIX + "conflicts", 1)
            pipe.hset(batch_key, "email_changes_done", index + 1)
            pipe.execute()
    return True


@dramatiq.actor(max_retries=10, time_limit=5 * 60_000)
@stops_on_account_problems
def sync_batch(account: str, batch_id: str) -> None:
    """Plan the batch, apply email changes, send its chunks (or complete it at once)."""
    client = redis_for_actors()
    batch_key = keys.batch(account, batch_id)
    if client.hget(batch_key, "status") != "running":
        return  # completed or unknown: a late redelivery
    if not client.hget(batch_key, "planned"):
        _write_plan(client, account, batch_id)
    fields = hash_of(client, batch_key)
    if not _email_changes(client, account, batch_id, fields):
        return
    total = int(fields.get("chunks_total", 0))
    if total == 0:
        finish_batch(client, account, batch_id)
        return
    for index in range(total):
        chunk_id = f"c{index:05d}"
        status = client.hget(keys.chunk(account, batch_id, chunk_id), "status")
        if status != "done":
            chunk_actors.upsert_chunk.send(account, batch_id, chunk_id)
    log.info("batch %s of %s: %d chunks sent", batch_id, account, total)
