"""What a chunk writes once Klaviyo answered: synced records, identities, rejections and
phone notes, each step in one MULTI together with the chunk's next status, so that a
redelivered message can never write (or count) the same step twice.

Counts of a chunk accumulate in its own hash (fields ``c:<count>``) and are added to the
batch once, when the chunk is done (``chunk_done.lua``). Two deliveries of one message may
run at once: every step is written only if the chunk's ``version`` is still the one the
step started from (:func:`write_if_unchanged`), so the second one writes nothing.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import orjson
import redis

from shared import constants as keys
from shared.identity import IdentityMap
from shared.state import held_back
from shared.state.account_health import owe_list, settle_owed
from shared.state.batch_details import REJECTED, record_details
from shared.state.chunk_record import COUNT_PREFIX, ChunkField, ChunkStatus, phone_stage
from shared.state.rejections import (
    forget_rejections,
    mark_rejecting,
    refusal_reason,
    reject,
)
from shared.state.synced_contacts import SyncedRecord, read_synced, write_synced
from shared.telemetry.metrics import record_rejections

Row = dict[str, Any]
Notes = tuple[dict[str, dict[str, str]], Counter[str]]
"""Details and counts found about a chunk's rows after it was planned
(:func:`workers.push.plan.final.apply_late_findings`)."""


def write_if_unchanged(client: redis.Redis, key: str, version: str,
                       write: Callable[[Any], None]) -> bool:
    """Run ``write(pipe)`` in one MULTI, only if the chunk is still at ``version`` (it is then
    one version further); False when another delivery got there first."""
    with client.pipeline(transaction=True) as pipe:
        watched: Any = pipe
        try:
            watched.watch(key)
            if str(pipe.hget(key, ChunkField.VERSION) or "0") != version:
                return False
            pipe.multi()
            write(pipe)
            pipe.hincrby(key, ChunkField.VERSION, 1)
            pipe.execute()
            return True
        except redis.WatchError:
            return False


def without_conflicts(client: redis.Redis, account: str, batch_id: str,
                      rows: list[Row], payload: list[Any]) -> tuple[list[Row], list[Any]]:
    """Drop contacts whose email change conflicted (reported; nothing duplicated)."""
    ids = [cid for row in rows for cid in row["contact_ids"]]
    if not ids:
        return rows, payload
    details: list[Any] = client.hmget(keys.batch_details(account, batch_id), ids)
    conflicted = {cid for cid, d in zip(ids, details, strict=True)
                  if d and json.loads(d).get("outcome") == "conflict"}
    if not conflicted:
        return rows, payload
    kept_rows, kept_payload = [], []
    for row, resource in zip(rows, payload, strict=True):
        row["contact_ids"] = [c for c in row["contact_ids"] if c not in conflicted]
        if row["contact_ids"]:
            kept_rows.append(row)
            kept_payload.append(resource)
    return kept_rows, kept_payload


def reject_rows(pipe: Any, account: str, batch_id: str, key: str,
                refused: Mapping[int, tuple[Row, Mapping[str, str]]]) -> int:
    """Record Klaviyo's refusal of rows (in ``pipe``, after :func:`mark_refusing`); returns
    the contacts rejected."""
    now = time.time()
    rejections: dict[str, str] = {}
    details: dict[str, str] = {}
    for row, error in refused.values():
        rejection = json.dumps({**error, "batch_id": batch_id, "at": now})
        detail = json.dumps({"outcome": REJECTED, "reason": refusal_reason(error)})
        for cid in row["contact_ids"]:
            rejections[cid], details[cid] = rejection, detail
    if rejections:
        reject(pipe, account, rejections)
        pipe.hset(keys.batch_details(account, batch_id), mapping=details)
        pipe.hincrby(key, COUNT_PREFIX + "rejected", len(rejections))
    return len(rejections)


def mark_refusing(client: redis.Redis, account: str,
                  refused: Mapping[int, tuple[Row, Mapping[str, str]]]) -> None:
    """Before a MULTI that rejects ``refused`` (:func:`reject_rows`): the account joins the
    rejecting accounts (a global key, so not in the account's MULTI)."""
    if refused:
        mark_rejecting(client, account)


def drop_phones(pipe: Any, account: str, batch_id: str, key: str,
                refused: Mapping[int, tuple[Row, Mapping[str, str]]]) -> None:
    """Note phones Klaviyo would not take (the contacts keep everything else)."""
    dropped = 0
    for row, error in refused.values():
        reason = ("the phone belongs to another Klaviyo profile"
                  if error.get("code") == "duplicate_profile"
                  else f"Klaviyo refused the phone: {error.get('detail') or error.get('code')}")
        for cid in row["contact_ids"]:
            dropped += 1
            pipe.hset(keys.batch_details(account, batch_id), cid,
                      json.dumps({"outcome": "phone_dropped", "reason": reason}))
    if dropped:
        pipe.hincrby(key, COUNT_PREFIX + "phone_dropped", dropped)


def save_round(pipe: Any, key: str, rows: list[Row], payload: list[Any], list_id: str,
               *, counted: bool = True) -> None:
    """What is left of the chunk's stage to post (after a round Klaviyo refused in part,
    when ``counted``)."""
    pipe.hset(key, mapping={ChunkField.ROWS: orjson.dumps(rows),
                            ChunkField.PAYLOAD: orjson.dumps(payload), ChunkField.LIST_ID: list_id})
    if counted:
        pipe.hincrby(key, COUNT_PREFIX + "import_rounds", 1)


def owe_rows(pipe: Any, account: str, rows: list[Row]) -> None:
    """The rows' contacts should have joined the (missing) default list."""
    owe_list(pipe, account, [cid for row in rows if row.get("join_list")
                             for cid in row["contact_ids"]])


def phone_stage_of(rows: list[Row]) -> dict[str, Any] | None:
    """The chunk fields of its phone-only job, or None when no row has a phone to send."""
    with_phone = [row for row in rows if row.get("phone")]
    if not with_phone:
        return None
    payload = [{"type": "profile", "attributes": {"email": row["email"],
                                                  "phone_number": row["phone"]}}
               for row in with_phone]
    return phone_stage(with_phone, payload)


def _synced_after(record: SyncedRecord | None, row: Row, list_id: str) -> SyncedRecord:
    """A contact's synced record once Klaviyo took its row (its phone is the phone stage's)."""
    lists = record.lists if record else []
    if list_id and list_id not in lists:
        lists = [*lists, list_id]
    phone = record.phone if record and not row.get("phone_cleared") else None
    return SyncedRecord.model_construct(
        email=row["email"], marketing=row["marketing"], lists=lists,
        fingerprint=row["fingerprint"], phone=phone, deleted=False, sent=row.get("sent"))


def commit_profiles(client: redis.Redis, account: str, batch_id: str, key: str,
                    list_id: str, ok: list[Row],
                    refused: Mapping[int, tuple[Row, Mapping[str, str]]],
                    learnt: Mapping[str, tuple[str, bool]], unsubscribed: int,
                    then: Mapping[str, Any], version: str, notes: Notes | None = None
                    ) -> bool:
    """Record what Klaviyo confirmed of the profile job (and the plan's ``notes`` on its
    rows), and move the chunk on to ``then`` (its phone stage, or ``committed``); False
    when another delivery did."""
    before = read_synced(client, account, [cid for row in ok for cid in row["contact_ids"]])
    identity = IdentityMap(client, account)
    mapped = identity.profiles_of_emails(row["email"] for row in ok)
    counted: dict[str, int] = {}

    def write(pipe: Any) -> None:
        # One command per record family for the whole chunk, not a few per contact: a
        # 10,000-row chunk queued ~60,000 commands, most of its commit's CPU.
        created = updated = 0
        synced: dict[str, SyncedRecord] = {}
        contact_profiles: dict[str, str] = {}
        email_profiles: dict[str, str] = {}
        joined: list[str] = []
        for row in ok:
            if row["email"] in learnt:
                profile_id, is_new = learnt[row["email"]]
                contact_profiles.update(dict.fromkeys(row["contact_ids"], profile_id))
                email_profiles[row["email"]] = profile_id
            else:
                is_new = row["first_time"] and row["email"] not in mapped
            created += is_new
            updated += not is_new
            for cid in row["contact_ids"]:
                synced[cid] = _synced_after(before.get(cid), row, list_id)
            if list_id and row.get("join_list"):
                joined += row["contact_ids"]
        if contact_profiles:
            identity.learn(contacts=contact_profiles, emails=email_profiles, pipe=pipe)
        if synced:
            write_synced(pipe, account, synced)
            held_back.release(pipe, account, synced)
            forget_rejections(pipe, account, synced)
        settle_owed(pipe, account, joined)
        counted["rejected"] = reject_rows(pipe, account, batch_id, key, refused)
        for name, value in (("created", created), ("updated", updated),
                            ("unsubscribed", unsubscribed)):
            pipe.hincrby(key, COUNT_PREFIX + name, value)
        if notes:
            record_details(pipe, account, batch_id, notes[0])
            for name, value in notes[1].items():
                pipe.hincrby(key, COUNT_PREFIX + name, value)
        pipe.hset(key, mapping=dict(then))
        pipe.hdel(key, ChunkField.JOB_ID, ChunkField.SUBMITTED_AT, ChunkField.COMPLETE_JOB)

    mark_refusing(client, account, refused)
    if not write_if_unchanged(client, key, version, write):
        return False
    record_rejections(client, account, counted["rejected"])
    return True


def commit_phones(client: redis.Redis, account: str, batch_id: str, key: str,
                  ok: list[Row], refused: Mapping[int, tuple[Row, Mapping[str, str]]],
                  version: str) -> bool:
    """Record the phones Klaviyo took (and the ones it would not); the chunk is then
    ``committed``. False when another delivery did."""
    before = read_synced(client, account, [cid for row in ok for cid in row["contact_ids"]])

    def write(pipe: Any) -> None:
        write_synced(pipe, account, {
            cid: old.model_copy(update={"phone": row["phone"]})
            for row in ok for cid in row["contact_ids"] if (old := before.get(cid))})
        drop_phones(pipe, account, batch_id, key, refused)
        pipe.hset(key, ChunkField.STATUS, ChunkStatus.COMMITTED)
        pipe.hdel(key, ChunkField.JOB_ID, ChunkField.SUBMITTED_AT, ChunkField.COMPLETE_JOB)

    return write_if_unchanged(client, key, version, write)
