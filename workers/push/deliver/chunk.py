"""``upsert_chunk`` and ``poll_import_job``: one chunk of a batch, to Klaviyo and back.

An import chunk has two stages (field ``stage``): ``profiles``, one bulk import job of its
rows without their phones (with the default list when the chunk has one), then, when some
rows have a phone to send, ``phones``: a phone-only job (``email`` + ``phone_number``)
posted once Klaviyo accepted the first, so each email already owns its profile and a phone
can never pick another one (docs/KLAVIYO.md, "phones never merge people").

Each stage: ``planned`` -> ``submitted`` (``job_id``) -> the job complete, recorded
(:mod:`workers.push.deliver.chunk_records`) -> the next stage, or ``committed`` -> ``done``. A
message redelivered at any point resumes from the recorded status. A crash between the POST
and recording ``submitted`` posts the same rows again: harmless, a bulk import is an upsert
by email and never creates a second profile for one.

Klaviyo refuses a whole job for one bad row (:mod:`workers.push.deliver.import_refusals`): the
named rows are recorded (rejected, or for phones: phone dropped) and the rest posted again
at once, round after round; each round removes a row or the list, so it ends. A refused
default list sends the chunk without it and flags the account.

Polling never holds a thread: ``poll_import_job`` re-sends itself with a growing delay
(0.2 s x 1.6^n, at most 60 s: jobs may take hours). A job is posted again only when Klaviyo
says it was cancelled, it is past its ``expires_at``, or it is gone (404); never while
Klaviyo reports it ``queued`` or ``processing``. Rate limits (ours or Klaviyo's 429)
re-send the same message after the wait instead of sleeping.

created vs updated: when the job has at most ``SYNC_JOB_PROFILE_PAGES`` (3) pages of profiles,
they are read: the profile ids are learnt and ``created`` is exact (profile ``created`` at
or after the job's ``created_at``). For bigger jobs, ``created`` counts the first-time
contacts whose email was never mapped to a profile, ``updated`` the rest.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import dramatiq
import orjson
import redis

from shared import constants as keys
from shared.klaviyo.bulk_body import bulk_import, job_body
from shared.klaviyo.errors import AccountRefused, RateLimited, Rejected
from shared.settings import get_settings
from shared.state import account_health as health
from shared.state.batch_record import is_planned, is_running
from shared.state.chunk_record import (
    FINISHED_CHUNK,
    ChunkField,
    ChunkKind,
    ChunkStage,
    ChunkStatus,
    chunk_counts,
    read_chunk,
    version_of,
)
from shared.state.list_echo import record_pushed
from shared.telemetry.metrics import record_rejections
from workers.push.deliver import chunk_records as records
from workers.push.deliver import consent as consent_push
from workers.push.deliver import job_answers as answers
from workers.push.deliver.body_slot import body_slot
from workers.push.deliver.clear_fields import clear_profiles
from workers.push.deliver.deletes import remove_deleted
from workers.push.deliver.erase import erase_contacts
from workers.push.deliver.import_refusals import read_refusal
from workers.push.failures import BatchRefused, stops_on_account_problems
from workers.push.lifecycle import chunk_done
from workers.push.plan import final as plan_final
from workers.runtime.actor_context import (
    Klaviyo,
    account_config,
    klaviyo_for,
    redis_for_actors,
    resend,
)

LIST_FREE_STEPS: dict[str, Callable[[redis.Redis, Klaviyo, str, str, dict[str, str]], None]] = {
    ChunkKind.DELETE: remove_deleted, ChunkKind.LEAVE: remove_deleted,
    ChunkKind.ERASE: erase_contacts, ChunkKind.CLEAR: clear_profiles}
"""The chunk kinds that send no import job, by ``kind``: each keeps its progress in the
chunk hash and raises RateLimited to be re-sent."""
UNSUBSCRIBE_PER_CALL = 100
POLL_FIRST_S, POLL_FACTOR, POLL_MAX_S = 0.2, 1.6, 60.0
PLAN_WAIT_S = 0.5
"""How often a chunk posted while its batch is still planned looks whether the plan is
complete, once its job is (no Klaviyo call: the complete job is kept in ``complete_job``)."""
ROUNDS_PER_MESSAGE = 20
"""Refused rounds of one chunk in one message; more continue in a new message."""
Row = dict[str, Any]
log = logging.getLogger(__name__)


def _klaviyo(client: redis.Redis, account: str) -> Klaviyo:
    return klaviyo_for(client, account_config(client, account))


@dataclass
class _Pending:
    """What is left of a chunk's stage to post, and the chunk version it was read at."""

    rows: list[Row]
    payload: list[Any]
    list_id: str
    version: str

    def save(self, client: redis.Redis, key: str, write: Any) -> bool:
        """Write a step (one MULTI, if nobody else moved the chunk on); the new version."""
        if not records.write_if_unchanged(client, key, self.version, write):
            return False
        self.version = str(int(self.version) + 1)
        return True


def _refused_round(client: redis.Redis, account: str, batch_id: str, key: str,
                   stage: str, left: _Pending, refused: Rejected) -> bool:
    """Take out what a 400 names (rows, or the list), record it, and keep the rest.
    False when another delivery of the chunk got there first."""
    verdict = read_refusal(refused, len(left.rows))
    if not verdict.rows and not (verdict.list_refused and left.list_id):
        raise BatchRefused(f"Klaviyo refused an import job: {refused.status} {refused.code}"
                           f" {refused.title}".rstrip())
    named = {i: (left.rows[i], refusal.as_dict()) for i, refusal in verdict.rows.items()}
    rows = [row for i, row in enumerate(left.rows) if i not in named]
    payload = [item for i, item in enumerate(left.payload) if i not in named]
    list_id = left.list_id if named else ""
    counted: dict[str, int] = {}

    def write(pipe: Any) -> None:
        if stage == ChunkStage.PHONES:
            records.drop_phones(pipe, account, batch_id, key, named)
        else:
            counted["rejected"] = records.reject_rows(pipe, account, batch_id, key, named)
        if not named:  # the list: Klaviyo no longer has it
            records.owe_rows(pipe, account, left.rows)
        records.save_round(pipe, key, rows, payload, list_id)

    if stage != ChunkStage.PHONES:
        records.mark_refusing(client, account, named)
    if not left.save(client, key, write):
        return False
    if not named:
        health.mark_list_missing(client, account, left.list_id, time.time())
        log.warning("account %s: Klaviyo refused the default list; a chunk of batch %s went "
                    "without it, its first-time contacts will join a new one", account,
                    batch_id)
    record_rejections(client, account, counted.get("rejected", 0))
    left.rows, left.payload, left.list_id = rows, payload, list_id
    return True


def _submit(client: redis.Redis, account: str, batch_id: str, chunk_id: str,
            fields: dict[str, str]) -> None:
    key = keys.chunk(account, batch_id, chunk_id)
    status, version = client.hmget(key, [ChunkField.STATUS, ChunkField.VERSION])
    if (status, version or "0") != (ChunkStatus.PLANNED, version_of(fields)):
        return  # a second message for the chunk, and the first one took it on
    stage = fields.get(ChunkField.STAGE) or ChunkStage.PROFILES
    rows: list[Row] = orjson.loads(fields[ChunkField.ROWS])
    payload: list[Any] = orjson.loads(client.hget(key, ChunkField.PAYLOAD) or "[]")
    if stage == "profiles":
        rows, payload = records.without_conflicts(client, account, batch_id, rows, payload)
    left = _Pending(rows, payload, fields.get(ChunkField.LIST_ID) or "", version_of(fields))
    klaviyo = _klaviyo(client, account)
    for _ in range(ROUNDS_PER_MESSAGE):
        if not left.rows:
            if not is_planned(client, account, batch_id):
                resend(upsert_chunk, (account, batch_id, chunk_id), PLAN_WAIT_S)
                return
            _stage_done(client, account, batch_id, chunk_id, stage, [], {}, {}, 0,
                        left.list_id, left.version)
            return
        if left.list_id:  # before the import: a pull must not echo these back
            record_pushed(client, account, left.list_id, [row["email"] for row in left.rows])
        try:
            answer: Any = klaviyo.gateway.call(
                "bulk_import_profiles", bulk_import(klaviyo.api),
                job_body(left.payload, left.list_id))
        except RateLimited as limited:
            if left.save(client, key, lambda pipe: records.save_round(
                    pipe, key, left.rows, left.payload, left.list_id, counted=False)):
                resend(upsert_chunk, (account, batch_id, chunk_id), limited.retry_in)
            return
        except AccountRefused:
            raise  # the account's problem, not the rows': the batch stops (see the guard)
        except Rejected as refused:
            if refused.status != 400:
                raise BatchRefused(f"Klaviyo refused an import job: {refused.status} "
                                   f"{refused.code} {refused.title}".rstrip()) from None
            if not _refused_round(client, account, batch_id, key, stage, left, refused):
                return
            continue
        job_id = str(answer["data"]["id"])

        def submitted(pipe: Any, job_id: str = job_id) -> None:
            records.save_round(pipe, key, left.rows, left.payload, left.list_id,
                               counted=False)
            pipe.hset(key, mapping={ChunkField.STATUS: ChunkStatus.SUBMITTED,
                                    ChunkField.JOB_ID: job_id, ChunkField.POLLS: 0,
                                    ChunkField.SUBMITTED_AT: repr(time.time())})

        if left.save(client, key, submitted):
            resend(poll_import_job, (account, batch_id, chunk_id), POLL_FIRST_S)
        return
    upsert_chunk.send(account, batch_id, chunk_id)  # more rounds, in a fresh message


@dramatiq.actor(max_retries=10, time_limit=5 * 60_000)
@stops_on_account_problems
def upsert_chunk(account: str, batch_id: str, chunk_id: str) -> None:
    """Send one chunk: a bulk import job (or its phone stage), the removals of deleted
    contacts, the erasures of erased ones, or the clearing of cleared fields."""
    client = redis_for_actors()
    if not is_running(client, account, batch_id):
        return
    key = keys.chunk(account, batch_id, chunk_id)
    fields = read_chunk(client, key, ChunkField.PAYLOAD)  # read in the body slot (_submit)
    status = fields.get(ChunkField.STATUS)
    if status in FINISHED_CHUNK:
        chunk_done(client, account, batch_id, chunk_id, chunk_counts(client, key))
    elif fields.get(ChunkField.KIND) in LIST_FREE_STEPS:
        try:
            LIST_FREE_STEPS[fields[ChunkField.KIND]](client, _klaviyo(client, account),
                                                     account, key, fields)
        except RateLimited as limited:  # progress is kept: the next delivery goes on
            resend(upsert_chunk, (account, batch_id, chunk_id), limited.retry_in)
            return
        chunk_done(client, account, batch_id, chunk_id, chunk_counts(client, key))
    elif status == ChunkStatus.PLANNED:
        with body_slot(get_settings().tuning):  # bounds the memory (body_slot.py)
            _submit(client, account, batch_id, chunk_id, fields)
    elif status == ChunkStatus.SUBMITTED:
        poll_import_job.send(account, batch_id, chunk_id)


def post_chunks(account: str, batch_id: str, chunk_ids: list[str]) -> None:
    """Hand planned chunks to ``upsert_chunk``, one message each: the one place a chunk's
    first message is sent (the planner calls it as it commits a first sync's chunks)."""
    for chunk_id in chunk_ids:
        upsert_chunk.send(account, batch_id, chunk_id)


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
        client.hset(key, ChunkField.UNSUB_DONE, offset + len(part))


def _finish_job(client: redis.Redis, klaviyo: Klaviyo, account: str, batch_id: str,
                chunk_id: str, fields: dict[str, str], job: dict[str, Any]) -> None:
    """The job is complete: read its import errors and record the stage."""
    job_id = fields[ChunkField.JOB_ID]
    key = keys.chunk(account, batch_id, chunk_id)
    rows: list[Row] = orjson.loads(client.hget(key, ChunkField.ROWS)
                                   or "[]")  # unchanged while the job runs: read once, here
    stage = fields.get(ChunkField.STAGE) or ChunkStage.PROFILES
    notes = (plan_final.apply_late_findings(client, account, batch_id, rows)
             if stage == ChunkStage.PROFILES else None)
    errors = answers.job_pages(klaviyo, "get_errors_for_bulk_import_profiles_job",
                               klaviyo.api.Profiles.get_errors_for_bulk_import_profiles_job,
                               job_id)
    failed = answers.row_errors(errors, rows)
    ok = [row for index, row in enumerate(rows) if index not in failed]
    version = version_of(fields)
    if notes is None:
        consent_push.phones_taken(client, klaviyo, account, key, ok)
        _stage_done(client, account, batch_id, chunk_id, stage, ok, failed, {}, 0, "",
                    version)
        return
    learnt = answers.learn_profiles(klaviyo, job_id, job, len(rows))
    unsub = [row["email"] for row in ok if row["unsubscribe"]]
    consent_push.profiles_taken(client, klaviyo, account, ok, notes)  # before unsubscribes
    _unsubscribe(client, klaviyo, keys.chunk(account, batch_id, chunk_id), unsub,
                 int(fields.get(ChunkField.UNSUB_DONE, 0)))
    _stage_done(client, account, batch_id, chunk_id, stage, ok, failed, learnt, len(unsub),
                fields.get(ChunkField.LIST_ID) or "", version, notes)


def _stage_done(client: redis.Redis, account: str, batch_id: str, chunk_id: str, stage: str,
                ok: list[Row], failed: dict[int, tuple[Row, dict[str, str]]],
                learnt: dict[str, tuple[str, bool]], unsubscribed: int, list_id: str,
                version: str, notes: records.Notes | None = None) -> None:
    key = keys.chunk(account, batch_id, chunk_id)
    if stage == ChunkStage.PHONES:
        if records.commit_phones(client, account, batch_id, key, ok, failed, version):
            chunk_done(client, account, batch_id, chunk_id, chunk_counts(client, key))
        return
    phones = records.phone_stage_of(ok)
    next_stage = phones or {ChunkField.STATUS: ChunkStatus.COMMITTED}
    if not records.commit_profiles(client, account, batch_id, key, list_id, ok, failed,
                                   learnt, unsubscribed, next_stage, version, notes):
        return
    if phones:
        upsert_chunk.send(account, batch_id, chunk_id)
    else:
        chunk_done(client, account, batch_id, chunk_id, chunk_counts(client, key))


def _expired(job: dict[str, Any]) -> bool:
    expires = answers.parse_time((job.get("attributes") or {}).get("expires_at"))
    return expires is not None and expires.tzinfo is not None and expires <= datetime.now(UTC)


def _post_again(client: redis.Redis, account: str, batch_id: str, chunk_id: str,
                fields: dict[str, str], why: str) -> None:
    log.warning("import job of batch %s chunk %s %s; posting its rows again", batch_id,
                chunk_id, why)
    key = keys.chunk(account, batch_id, chunk_id)
    if records.write_if_unchanged(
            client, key, version_of(fields), lambda pipe: pipe.hset(
                key, mapping={ChunkField.STATUS: ChunkStatus.PLANNED,
                              ChunkField.RESUBMITTED: fields[ChunkField.JOB_ID]})):
        upsert_chunk.send(account, batch_id, chunk_id)  # rows are kept: submit them again


@dramatiq.actor(max_retries=10, time_limit=5 * 60_000)
@stops_on_account_problems
def poll_import_job(account: str, batch_id: str, chunk_id: str) -> None:
    """Look at the chunk's import job once; re-sent with a growing delay until complete."""
    client = redis_for_actors()
    key = keys.chunk(account, batch_id, chunk_id)
    # a poll needs neither the payload nor the rows (MBs each)
    fields = read_chunk(client, key, ChunkField.PAYLOAD, ChunkField.ROWS)
    chunk_status = fields.get(ChunkField.STATUS)
    if not is_running(client, account, batch_id) or chunk_status != ChunkStatus.SUBMITTED:
        if chunk_status in FINISHED_CHUNK:
            chunk_done(client, account, batch_id, chunk_id, chunk_counts(client, key))
        return
    klaviyo = _klaviyo(client, account)
    args = (account, batch_id, chunk_id)
    if ChunkField.COMPLETE_JOB in fields:  # seen complete while the batch was still planned
        _record_when_planned(client, klaviyo, args, fields,
                             orjson.loads(fields[ChunkField.COMPLETE_JOB]))
        return
    job_id = fields[ChunkField.JOB_ID]
    try:
        answer: Any = klaviyo.gateway.call(
            "get_bulk_import_profiles_job",
            klaviyo.api.Profiles.get_bulk_import_profiles_job, job_id)
    except RateLimited as limited:
        resend(poll_import_job, args, limited.retry_in)
        return
    except Rejected as refused:
        if refused.status != 404:
            raise
        _post_again(client, account, batch_id, chunk_id, fields, "is gone (404)")
        return
    job = answer["data"]
    status = (job.get("attributes") or {}).get("status")
    if status == "cancelled" or (status != "complete" and _expired(job)):
        _post_again(client, account, batch_id, chunk_id, fields,
                    "was cancelled" if status == "cancelled" else "expired")
        return
    if status != "complete":
        polls = int(client.hincrby(key, ChunkField.POLLS, 1))
        resend(poll_import_job, args, min(POLL_MAX_S, POLL_FIRST_S * POLL_FACTOR ** polls))
        return
    _record_when_planned(client, klaviyo, args, fields, job)


def _record_when_planned(client: redis.Redis, klaviyo: Klaviyo, args: tuple[str, str, str],
                         fields: dict[str, str], job: dict[str, Any]) -> None:
    """Record the complete job -- once the batch is planned; until then keep the job's
    answer and look again in :data:`PLAN_WAIT_S`."""
    account, batch_id, chunk_id = args
    # Only a planned batch knows what its later slices found (workers/push/plan/final.py).
    if not is_planned(client, account, batch_id):
        if ChunkField.COMPLETE_JOB not in fields:
            client.hset(keys.chunk(account, batch_id, chunk_id), ChunkField.COMPLETE_JOB,
                        orjson.dumps(job))
        resend(poll_import_job, args, PLAN_WAIT_S)
        return
    try:
        with body_slot(get_settings().tuning):  # its records weigh as much as the body
            _finish_job(client, klaviyo, account, batch_id, chunk_id, fields, job)
    except RateLimited as limited:
        resend(poll_import_job, args, limited.retry_in)

