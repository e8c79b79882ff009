"""``upsert_chunk`` and ``poll_import_job``: one chunk of a batch, to Klaviyo and back.

Import chunk progress (hash :func:`shared.constants.chunk`): ``planned`` -> ``submitted``
(``job_id``) -> ``done``. A message redelivered at any point resumes from the recorded
status. A crash between the POST and recording ``submitted`` makes the redelivery POST the
same profiles again: harmless, because a bulk import is an upsert by email -- it never
creates a second profile for an email. Counts are added by ``chunk_done.lua`` once.

Polling never holds a thread: ``poll_import_job`` re-sends itself with a growing delay
(0.2 s x 1.6^n, at most 5 s) until the job is complete. Rate limits (ours or Klaviyo's 429)
re-send the same message after the wait instead of sleeping.

created vs updated: when the job has at most :data:`JOB_PROFILE_PAGES` pages of profiles,
they are read: the profile ids are learnt and ``created`` is exact (profile ``created`` at
or after the job's ``created_at``). For bigger jobs, ``created`` counts the first-time
contacts whose email was never mapped to a profile, ``updated`` the rest; ids are then
looked up lazily when needed (email change, delete).
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from datetime import datetime
from typing import Any

import dramatiq
import orjson
import redis

from shared import constants as keys
from shared.accounts import as_text
from shared.identity import IdentityMap
from shared.klaviyo.errors import RateLimited, Rejected
from shared.telemetry.metrics import record_rejections
from workers.actors.common import (
    Klaviyo,
    account_config,
    chunk_done,
    hash_of,
    klaviyo_for,
    redis_for_actors,
    resend,
)
from workers.actors.identity_ops import lookup_profiles
from workers.batch_planner import SyncedRecord
from workers.reverse.echo import record_pushed

JOB_PROFILE_PAGES = 3
"""Read a finished job's profiles (100 a page) only when it fits in this many pages
(``SYNC_JOB_PROFILE_PAGES`` overrides; 0 = never)."""
PAGE = 100
UNSUBSCRIBE_PER_CALL = 100
LIST_CALL_MAX = 1000
POLL_FIRST_S, POLL_FACTOR, POLL_MAX_S = 0.2, 1.6, 5.0
JOB_STUCK_AFTER_S = 3600.0
"""An import job not complete this long after it was submitted is given up and its rows
submitted again (a new job; upserts by email, so nothing is duplicated), so that a job
Klaviyo never finishes cannot hold the account's batch forever
(``SYNC_IMPORT_JOB_STUCK_AFTER`` overrides)."""
ROW_POINTER = re.compile(r"/profiles/data/(\d+)")
log = logging.getLogger(__name__)


def _klaviyo(client: redis.Redis, account: str) -> Klaviyo:
    return klaviyo_for(client, account_config(client, account))


def _running(client: redis.Redis, account: str, batch_id: str) -> bool:
    return client.hget(keys.batch(account, batch_id), "status") == "running"


def _without_conflicts(client: redis.Redis, account: str, batch_id: str,
                       rows: list[dict[str, Any]], payload: list[Any]
                       ) -> tuple[list[dict[str, Any]], list[Any]]:
    """Drop contacts whose email change conflicted (reported; nothing duplicated)."""
    ids = [cid for row in rows for cid in row["contact_ids"]]
    if not ids:
        return rows, payload
    details: list[Any] = client.hmget(keys.batch_details(account, batch_id), ids)  # type: ignore[assignment]
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


def _submit(client: redis.Redis, account: str, batch_id: str, chunk_id: str,
            fields: dict[str, str]) -> None:
    key = keys.chunk(account, batch_id, chunk_id)
    rows, payload = _without_conflicts(client, account, batch_id,
                                       orjson.loads(fields["rows"]),
                                       orjson.loads(fields["payload"]))
    if not rows:
        chunk_done(client, account, batch_id, chunk_id, {})
        return
    data: dict[str, Any] = {"type": "profile-bulk-import-job",
                            "attributes": {"profiles": {"data": payload}}}
    if fields.get("list_id"):
        data["relationships"] = {"lists": {"data": [{"type": "list",
                                                     "id": fields["list_id"]}]}}
    if fields.get("list_id"):  # before the import: a pull must not echo these back
        record_pushed(client, account, fields["list_id"], [row["email"] for row in rows])
    klaviyo = _klaviyo(client, account)
    try:
        answer: Any = klaviyo.gateway.call(
            "bulk_import_profiles", klaviyo.api.Profiles.bulk_import_profiles, {"data": data})
    except RateLimited as limited:
        resend(upsert_chunk, (account, batch_id, chunk_id), limited.retry_in)
        return
    except Rejected as refused:  # the whole job refused (e.g. the list is gone): say why
        error = {"code": refused.code, "title": refused.title, "detail": refused.detail}
        _commit(client, account, batch_id, chunk_id, "", [],
                dict(enumerate(rows)), dict.fromkeys(range(len(rows)), error), {}, 0)
        return
    client.hset(key, mapping={"status": "submitted", "job_id": str(answer["data"]["id"]),
                              "rows": orjson.dumps(rows), "polls": 0,
                              "submitted_at": repr(time.time())})
    resend(poll_import_job, (account, batch_id, chunk_id), POLL_FIRST_S)


@dramatiq.actor(max_retries=10, time_limit=5 * 60_000)
def upsert_chunk(account: str, batch_id: str, chunk_id: str) -> None:
    """Send one chunk: a bulk import job, or the removals of deleted contacts."""
    client = redis_for_actors()
    if not _running(client, account, batch_id):
        return
    fields = hash_of(client, keys.chunk(account, batch_id, chunk_id))
    status = fields.get("status")
    if status == "done":
        chunk_done(client, account, batch_id, chunk_id, {})
    elif fields.get("kind") == "delete":
        _deletes(client, account, batch_id, chunk_id, fields)
    elif status == "planned":
        _submit(client, account, batch_id, chunk_id, fields)
    elif status == "submitted":
        poll_import_job.send(account, batch_id, chunk_id)


def _pages(klaviyo: Klaviyo, operation: str, fn: Any, job_id: str, **kwargs: Any
           ) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        answer: Any = klaviyo.gateway.call(operation, fn, job_id, page_size=PAGE,
                                           page_cursor=cursor, **kwargs)
        items += (answer or {}).get("data") or []
        cursor = ((answer or {}).get("links") or {}).get("next")
        if not cursor:
            return items


def _row_errors(errors: list[dict[str, Any]], rows: list[dict[str, Any]]
                ) -> dict[int, dict[str, str]]:
    """Row index -> Klaviyo's error (code, title, detail), by pointer or payload email."""
    by_email = {row["email"]: index for index, row in enumerate(rows)}
    found: dict[int, dict[str, str]] = {}
    for error in errors:
        attrs = error.get("attributes") or {}
        pointer = str((attrs.get("source") or {}).get("pointer") or "")
        match = ROW_POINTER.search(pointer)
        index: int | None = int(match.group(1)) if match else None
        if index is None or index >= len(rows):
            original = attrs.get("original_payload") or {}
            email = str(original.get("email") or "").strip().lower()
            index = by_email.get(email)
        if index is not None:
            found[index] = {k: str(attrs.get(k) or "") for k in ("code", "title", "detail")}
    return found


def _parse_time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def _unsubscribe(client: redis.Redis, klaviyo: Klaviyo, key: str, emails: list[str],
                 start: int) -> None:
    """Email-marketing unsubscribes, 100 a call, progress in ``unsub_done``."""
    for offset in range(start, len(emails), UNSUBSCRIBE_PER_CALL):
        part = emails[offset:offset + UNSUBSCRIBE_PER_CALL]
        body = {"data": {"type": "profile-subscription-bulk-delete-job", "attributes": {
            "profiles": {"data": [{"type": "profile", "attributes": {
                "email": email,
                "subscriptions": {"email": {"marketing": {"consent": "UNSUBSCRIBED"}}}}}
                for email in part]}}}}
        klaviyo.gateway.call("bulk_unsubscribe_profiles",
                             klaviyo.api.Profiles.bulk_unsubscribe_profiles, body)
        client.hset(key, "unsub_done", offset + len(part))


def _finish_import(client: redis.Redis, klaviyo: Klaviyo, account: str, batch_id: str,
                   chunk_id: str, fields: dict[str, str], job: dict[str, Any]) -> None:
    key = keys.chunk(account, batch_id, chunk_id)
    job_id = fields["job_id"]
    rows: list[dict[str, Any]] = orjson.loads(fields["rows"])
    profiles_api = klaviyo.api.Profiles
    errors = _pages(klaviyo, "get_errors_for_bulk_import_profiles_job",
                    profiles_api.get_errors_for_bulk_import_profiles_job, job_id)
    failed = _row_errors(errors, rows)
    ok = [row for index, row in enumerate(rows) if index not in failed]
    learnt: dict[str, tuple[str, bool]] = {}
    pages = int(os.environ.get("SYNC_JOB_PROFILE_PAGES", JOB_PROFILE_PAGES))
    if len(rows) <= pages * PAGE:
        started = _parse_time((job.get("attributes") or {}).get("created_at"))
        for profile in _pages(klaviyo, "get_profiles_for_bulk_import_profiles_job",
                              profiles_api.get_profiles_for_bulk_import_profiles_job,
                              job_id, fields_profile=["email", "created"]):
            attrs = profile.get("attributes") or {}
            created = _parse_time(attrs.get("created"))
            email = str(attrs.get("email") or "").strip().lower()
            learnt[email] = (str(profile["id"]),
                             bool(created and started and created >= started))
    unsub = [row["email"] for row in ok if row["unsubscribe"]]
    _unsubscribe(client, klaviyo, key, unsub, int(fields.get("unsub_done", 0)))
    _commit(client, account, batch_id, chunk_id, fields.get("list_id") or "", ok,
            {index: rows[index] for index in failed}, failed, learnt, len(unsub))


def _commit(client: redis.Redis, account: str, batch_id: str, chunk_id: str, list_id: str,
            ok: list[dict[str, Any]], failed_rows: dict[int, dict[str, Any]],
            failed: dict[int, dict[str, str]], learnt: dict[str, tuple[str, bool]],
            unsubscribed: int) -> None:
    """Record what Klaviyo confirmed, then count the chunk done (once)."""
    ids = [cid for row in ok for cid in row["contact_ids"]]
    previous: list[Any] = client.hmget(keys.synced_contacts(account), ids) if ids else []  # type: ignore[assignment]
    before = dict(zip(ids, previous, strict=True))
    mapped = IdentityMap(client, account).profiles_of_emails(row["email"] for row in ok)
    created = updated = 0
    now = time.time()
    with client.pipeline(transaction=True) as pipe:
        for row in ok:
            if row["email"] in learnt:
                profile_id, is_new = learnt[row["email"]]
                IdentityMap(client, account).learn(
                    contacts={cid: profile_id for cid in row["contact_ids"]},
                    emails={row["email"]: profile_id}, pipe=pipe)
            else:
                is_new = row["first_time"] and row["email"] not in mapped
            created += is_new
            updated += not is_new
            for cid in row["contact_ids"]:
                old = before.get(cid)
                lists = SyncedRecord.model_validate_json(old).lists if old else []
                if list_id and list_id not in lists:
                    lists = [*lists, list_id]
                record = SyncedRecord(email=row["email"], marketing=row["marketing"],
                                      lists=lists, fingerprint=row["fingerprint"])
                pipe.hset(keys.synced_contacts(account), cid, record.model_dump_json())
                pipe.zrem(keys.held_back(account), cid)
                pipe.hdel(keys.rejected(account), cid)
        rejected = 0
        for index, error in failed.items():
            for cid in failed_rows[index]["contact_ids"]:
                rejected += 1
                pipe.hset(keys.rejected(account), cid, json.dumps(
                    {**error, "batch_id": batch_id, "at": now}))
        pipe.execute()
    record_rejections(client, account, rejected)
    chunk_done(client, account, batch_id, chunk_id, {
        "created": created, "updated": updated, "rejected": rejected,
        "unsubscribed": unsubscribed})


@dramatiq.actor(max_retries=10, time_limit=5 * 60_000)
def poll_import_job(account: str, batch_id: str, chunk_id: str) -> None:
    """Look at the chunk's import job once; re-sent with a growing delay until complete."""
    client = redis_for_actors()
    key = keys.chunk(account, batch_id, chunk_id)
    fields = hash_of(client, key)
    if not _running(client, account, batch_id) or fields.get("status") != "submitted":
        if fields.get("status") == "done":
            chunk_done(client, account, batch_id, chunk_id, {})
        return
    klaviyo = _klaviyo(client, account)
    args = (account, batch_id, chunk_id)
    try:
        answer: Any = klaviyo.gateway.call(
            "get_bulk_import_profiles_job",
            klaviyo.api.Profiles.get_bulk_import_profiles_job, fields["job_id"])
        job = answer["data"]
        status = (job.get("attributes") or {}).get("status")
        stuck_after = float(os.environ.get("SYNC_IMPORT_JOB_STUCK_AFTER", JOB_STUCK_AFTER_S))
        stuck = (status != "complete"
                 and time.time() - float(fields.get("submitted_at") or time.time()) > stuck_after)
        if status == "cancelled" or stuck:
            log.warning("import job %s of batch %s chunk %s %s; submitting its rows again",
                        fields["job_id"], batch_id, chunk_id,
                        "was cancelled" if status == "cancelled" else f"still {status}")
            client.hset(key, mapping={"status": "planned", "resubmitted": fields["job_id"]})
            upsert_chunk.send(*args)  # rows are kept: submit them again
            return
        if status != "complete":
            polls = int(client.hincrby(key, "polls", 1))
            resend(poll_import_job, args, min(POLL_MAX_S, POLL_FIRST_S * POLL_FACTOR ** polls))
            return
        _finish_import(client, klaviyo, account, batch_id, chunk_id, fields, job)
    except RateLimited as limited:
        resend(poll_import_job, args, limited.retry_in)


def _deletes(client: redis.Redis, account: str, batch_id: str, chunk_id: str,
             fields: dict[str, str]) -> None:
    """Take deleted contacts out of the lists the sync put them in; never delete a
    profile. The synced record is kept (lists emptied, marked deleted)."""
    contact_ids: list[str] = orjson.loads(fields["rows"])
    raw: list[Any] = client.hmget(keys.synced_contacts(account), contact_ids)  # type: ignore[assignment]
    records = {cid: SyncedRecord.model_validate_json(r)
               for cid, r in zip(contact_ids, raw, strict=True) if r}
    identity = IdentityMap(client, account)
    profiles = identity.profiles_of_contacts(records)
    by_email = identity.profiles_of_emails(r.email for c, r in records.items()
                                           if c not in profiles)
    klaviyo = _klaviyo(client, account)
    try:
        missing = [r.email for c, r in records.items()
                   if c not in profiles and r.email not in by_email]
        by_email.update(lookup_profiles(klaviyo, missing) if missing else {})
        by_list: dict[str, list[str]] = {}
        for cid, record in records.items():
            profile_id = profiles.get(cid) or by_email.get(record.email)
            for list_id in record.lists if profile_id else []:
                by_list.setdefault(list_id, []).append(profile_id or "")
        removed: set[str] = set()
        for list_id, ids in sorted(by_list.items()):
            for start in range(0, len(ids), LIST_CALL_MAX):
                body = {"data": [{"type": "profile", "id": pid}
                                 for pid in ids[start:start + LIST_CALL_MAX]]}
                klaviyo.gateway.call("remove_profiles_from_list",
                                     klaviyo.api.Lists.remove_profiles_from_list,
                                     list_id, body)
                removed.update(ids[start:start + LIST_CALL_MAX])
    except RateLimited as limited:
        resend(upsert_chunk, (account, batch_id, chunk_id), limited.retry_in)
        return
    with client.pipeline(transaction=True) as pipe:
        for cid, record in records.items():
            kept = record.model_copy(update={"lists": [], "deleted": True, "fingerprint": ""})
            pipe.hset(keys.synced_contacts(account), cid, kept.model_dump_json())
        pipe.execute()
    count = sum(1 for cid, r in records.items()
                if (profiles.get(cid) or by_email.get(r.email)) in removed)
    chunk_done(client, account, batch_id, chunk_id, {"removed_from_lists": count})


def chunk_progress(client: redis.Redis, account: str, batch_id: str) -> dict[str, int]:
    """Chunks of a batch by status (for status displays)."""
    total = int(client.hget(keys.batch(account, batch_id), "chunks_total") or 0)
    seen: dict[str, int] = {}
    for index in range(total):
        status = as_text(client.hget(keys.chunk(account, batch_id, f"c{index:05d}"),
                                     "status") or "planned")
        seen[status] = seen.get(status, 0) + 1
    return seen
