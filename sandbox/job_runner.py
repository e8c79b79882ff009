"""How a bulk import job runs: ``queued`` for a while, ``processing`` for a while, then
``complete``, unless it is cancelled or expires first (docs/KLAVIYO.md §4).

Large imports "may take several hours" at Klaviyo; ``job_delay_ms`` (queued) and
``job_processing_ms`` let a test hold a job in either state for as long as it needs.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sandbox.bulk_rows import checked_row, row_pointer
from sandbox.gc_pause import gc_paused
from sandbox.identity import RowError, upsert
from sandbox.ids import now, ulid
from sandbox.state import SandboxState
from sandbox.store import Account, ImportJob

CHUNK = 2000


def alive(account: Account, job: ImportJob) -> bool:
    """Still to be worked on: in its account (no reset since), not cancelled, not expired."""
    return (
        account.import_jobs.get(job.id) is job
        and job.status in ("queued", "processing")
        and not job.expired(now())
    )


async def process_later(state: SandboxState, account: Account, job: ImportJob) -> None:
    """The ``async`` job mode: wait queued, wait processing, then apply the rows."""
    queued_ms, processing_ms = state.job_delay_ms, state.job_processing_ms
    options = _options(state)
    if queued_ms:
        await asyncio.sleep(queued_ms / 1000)
    if not alive(account, job):
        return
    _start(job)
    if processing_ms:
        await asyncio.sleep(processing_ms / 1000)
    for start in range(0, len(job.rows), CHUNK):
        await asyncio.sleep(0)
        if not alive(account, job):
            return
        _process_rows(account, job, start, start + CHUNK, **options)
    if alive(account, job):
        _finish(job)


def process_all(state: SandboxState, account: Account, job: ImportJob) -> None:
    """The ``instant`` job mode: the whole job at once, before the 202."""
    _start(job)
    _process_rows(account, job, 0, len(job.rows), **_options(state))
    _finish(job)


def cancel(job: ImportJob) -> None:
    """The job is ``cancelled``: rows not yet applied never will be; its counts stay."""
    job.status = "cancelled"
    job.drop_rows()


def expire(job: ImportJob) -> None:
    """The job is gone: its GETs answer 404 and unapplied rows are dropped."""
    job.expires_at = now()
    job.drop_rows()


def _options(state: SandboxState) -> dict[str, bool]:
    return {
        "lowercase": state.config.lowercase_emails,
        "by_phone": state.strictness.phone_identity,
    }


def _start(job: ImportJob) -> None:
    job.status = "processing"
    job.started_at = now()


def _finish(job: ImportJob) -> None:
    job.drop_rows()
    job.status = "complete"
    job.completed_at = now()


def _process_rows(
    account: Account, job: ImportJob, start: int, end: int, *, lowercase: bool, by_phone: bool
) -> None:
    """Upsert each row (nulls ignored); bad rows and identity conflicts become import-errors.

    Rows the POST already checked (``job.checked``) are not checked again.
    """
    with gc_paused():
        _apply_rows(account, job, start, end, lowercase=lowercase, by_phone=by_phone)


def _apply_rows(
    account: Account, job: ImportJob, start: int, end: int, *, lowercase: bool, by_phone: bool
) -> None:
    stamp = now()
    targets = [account.lists[lid] for lid in job.list_ids if lid in account.lists]
    known = job.profile_set
    rows, checked = job.rows, job.checked
    for i in range(start, min(end, len(rows))):
        try:
            attrs, profile_id = (
                checked[i] if checked is not None else checked_row(rows[i], lowercase=lowercase)
            )
            profile, _created = upsert(
                account, attrs, profile_id, nulls_clear=False, by_phone=by_phone
            )
        except RowError as err:
            job.failed_count += 1
            job.errors.append(_import_error(i, rows[i], err))
            continue
        job.completed_count += 1
        pid = profile.id
        if pid not in known:
            known.add(pid)
            job.profile_ids.append(pid)
        for rec in targets:
            rec.add(pid, stamp)


def _import_error(i: int, row: Any, err: RowError) -> dict[str, Any]:
    original = row.get("attributes") if isinstance(row, dict) else None
    return {
        "type": "import-error",
        "id": ulid(),
        "attributes": {
            "code": err.code,
            "title": err.title,
            "detail": err.detail,
            "source": {"pointer": row_pointer(i, err.field)},
            "original_payload": original if isinstance(original, dict) else None,
        },
    }
