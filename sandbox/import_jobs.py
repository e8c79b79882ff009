"""Profile bulk-import jobs: accept (202), process asynchronously, and the job's sub-resources."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sandbox.errors import invalid, not_found
from sandbox.filters import check_allowed, parse_filter, values_of
from sandbox.http import Reply, Request, Route, attributes_of, data_object, profile_rows
from sandbox.identity import RowError, clean_attributes, upsert
from sandbox.ids import now, ulid
from sandbox.jsonapi import import_job_resource, list_resource, profile_resource
from sandbox.paging import paginate
from sandbox.state import SandboxState
from sandbox.store import Account, ImportJob

MAX_PROFILES = 10_000
MAX_BYTES = 5 * 1024 * 1024
CHUNK = 2000
ROW_POINTER = "/data/attributes/profiles/data/{i}"


def bulk_import_profiles(req: Request) -> Reply:
    """POST /api/profile-bulk-import-jobs: 202 with the queued job."""
    if req.too_large(MAX_BYTES):
        raise invalid("The payload exceeds the maximum size of 5 MB.", pointer="/data")
    data = data_object(req.json(), "profile-bulk-import-job")
    rows = profile_rows(
        attributes_of(data), MAX_PROFILES,
        f"A bulk import job accepts at most {MAX_PROFILES} profiles; got {{got}}.")
    list_ids = _list_ids(req.acct, data.get("relationships"))
    created = now()
    job = ImportJob(
        id=ulid(),
        created_at=created,
        total_count=len(rows),
        rows=rows,
        list_ids=list_ids,
        expires_at=created + timedelta(days=30),
    )
    req.acct.import_jobs[job.id] = job
    state = req.state
    if state.job_mode == "instant":
        process_all(req.acct, job)
    else:
        state.spawn(_process_later(state, req.acct, job))
    return Reply(
        202,
        {
            "data": import_job_resource(job, req.base),
            "links": {"self": f"{req.base}/api/profile-bulk-import-jobs/{job.id}/"},
        },
    )


def _list_ids(account: Account, relationships: Any) -> list[str]:
    if relationships is None:
        return []
    lists = relationships.get("lists") if isinstance(relationships, dict) else None
    items = lists.get("data") if isinstance(lists, dict) else None
    if not isinstance(items, list):
        raise invalid(
            "'relationships.lists.data' must be an array.", pointer="/data/relationships/lists/data"
        )
    out: list[str] = []
    for i, item in enumerate(items):
        lid = item.get("id") if isinstance(item, dict) else None
        if not isinstance(lid, str) or item.get("type") != "list":
            raise invalid(
                'Each list must be {"type": "list", "id": ...}.',
                pointer=f"/data/relationships/lists/data/{i}",
            )
        if lid not in account.lists:
            raise invalid(
                f"List '{lid}' does not exist.", pointer=f"/data/relationships/lists/data/{i}/id"
            )
        out.append(lid)
    return out


async def _process_later(state: SandboxState, account: Account, job: ImportJob) -> None:
    if state.job_delay_ms:
        await asyncio.sleep(state.job_delay_ms / 1000)
    _start(job)
    for start in range(0, len(job.rows), CHUNK):
        await asyncio.sleep(0)
        _process_rows(account, job, start, start + CHUNK)
    _finish(job)


def process_all(account: Account, job: ImportJob) -> None:
    """Process the whole job at once (the ``instant`` job mode)."""
    _start(job)
    _process_rows(account, job, 0, len(job.rows))
    _finish(job)


def _start(job: ImportJob) -> None:
    job.status = "processing"
    job.started_at = now()


def _finish(job: ImportJob) -> None:
    job.rows = []
    job.status = "complete"
    job.completed_at = now()


def _process_rows(account: Account, job: ImportJob, start: int, end: int) -> None:
    """Upsert each row (nulls ignored); invalid rows become import errors."""
    stamp = now()
    targets = [account.lists[lid] for lid in job.list_ids if lid in account.lists]
    known = job.profile_set
    for i in range(start, min(end, len(job.rows))):
        row = job.rows[i]
        try:
            pid = _import_row(account, row)
        except RowError as err:
            job.failed_count += 1
            job.errors.append(_import_error(i, row, err))
            continue
        job.completed_count += 1
        if pid not in known:
            known.add(pid)
            job.profile_ids.append(pid)
        for rec in targets:
            rec.add(pid, stamp)


def _import_row(account: Account, row: Any) -> str:
    if not isinstance(row, dict) or not isinstance(row.get("attributes"), dict):
        raise RowError(
            "invalid", "Invalid input.", "Each profile must be an object with 'attributes'.", ""
        )
    attrs = {k: v for k, v in row["attributes"].items() if v is not None}
    clean, _partial = clean_attributes(attrs, allow_kx=True)
    clean.pop("_kx", None)
    profile_id = row.get("id") if isinstance(row.get("id"), str) else None
    profile, _created = upsert(account, clean, profile_id, nulls_clear=False)
    return profile.id


def _import_error(i: int, row: Any, err: RowError) -> dict[str, Any]:
    pointer = ROW_POINTER.format(i=i)
    if err.field is not None:
        pointer += f"/attributes/{err.field}" if err.field else "/attributes"
    original = row.get("attributes") if isinstance(row, dict) else None
    return {
        "type": "import-error",
        "id": ulid(),
        "attributes": {
            "code": err.code,
            "title": err.title,
            "detail": err.detail,
            "source": {"pointer": pointer},
            "original_payload": original,
        },
    }


def _job_or_404(req: Request) -> ImportJob:
    job = req.acct.import_jobs.get(req.params["id"])
    if job is None:
        raise not_found(f"A bulk import job with id '{req.params['id']}' does not exist.")
    return job


def get_job(req: Request) -> Reply:
    """GET /api/profile-bulk-import-jobs/{id}; ``include=lists``."""
    job = _job_or_404(req)
    body: dict[str, Any] = {
        "data": import_job_resource(job, req.base),
        "links": {"self": f"{req.base}/api/profile-bulk-import-jobs/{job.id}/"},
    }
    if "lists" in req.query.get("include", ""):
        body["included"] = [
            list_resource(req.acct.lists[lid], req.base, {})
            for lid in job.list_ids
            if lid in req.acct.lists
        ]
    return Reply(200, body)


def get_jobs(req: Request) -> Reply:
    """GET /api/profile-bulk-import-jobs: filter on status, sort on created_at."""
    terms = parse_filter(req.query.get("filter"))
    check_allowed(terms, {"status": {"equals", "any"}})
    jobs = list(req.acct.import_jobs.values())
    for term in terms:
        wanted = set(values_of(term))
        jobs = [job for job in jobs if job.status in wanted]
    sort = req.query.get("sort", "")
    if sort not in ("", "created_at", "-created_at"):
        raise invalid(f"'{sort}' is not a valid sort for bulk import jobs.", parameter="sort")
    if sort == "-created_at":
        jobs.reverse()
    page, links = paginate(jobs, req.query, req.base, "/api/profile-bulk-import-jobs", maximum=100)
    return Reply(
        200, {"data": [import_job_resource(job, req.base) for job in page], "links": links}
    )


def get_errors(req: Request) -> Reply:
    """GET .../import-errors: one entry per failed row."""
    job = _job_or_404(req)
    page, links = paginate(
        job.errors, req.query, req.base, f"/api/profile-bulk-import-jobs/{job.id}/import-errors"
    )
    return Reply(200, {"data": list(page), "links": links})


def get_job_profiles(req: Request) -> Reply:
    """GET .../profiles: the created and updated profiles, 20 a page by default, 100 max."""
    job = _job_or_404(req)
    page, links = paginate(
        job.profile_ids, req.query, req.base, f"/api/profile-bulk-import-jobs/{job.id}/profiles"
    )
    profiles = req.acct.profiles
    return Reply(
        200,
        {
            "data": [profile_resource(profiles[pid], req.base, req.query) for pid in page],
            "links": links,
        },
    )


def get_job_profile_ids(req: Request) -> Reply:
    """GET .../relationships/profiles."""
    job = _job_or_404(req)
    page, links = paginate(
        job.profile_ids,
        req.query,
        req.base,
        f"/api/profile-bulk-import-jobs/{job.id}/relationships/profiles",
    )
    return Reply(200, {"data": [{"type": "profile", "id": pid} for pid in page], "links": links})


def get_job_lists(req: Request) -> Reply:
    """GET .../lists."""
    job = _job_or_404(req)
    recs = [req.acct.lists[lid] for lid in job.list_ids if lid in req.acct.lists]
    return Reply(
        200,
        {
            "data": [list_resource(rec, req.base, req.query) for rec in recs],
            "links": {"self": f"{req.base}/api/profile-bulk-import-jobs/{job.id}/lists/"},
        },
    )


def get_job_list_ids(req: Request) -> Reply:
    """GET .../relationships/lists."""
    job = _job_or_404(req)
    return Reply(
        200,
        {
            "data": [{"type": "list", "id": lid} for lid in job.list_ids],
            "links": {
                "self": f"{req.base}/api/profile-bulk-import-jobs/{job.id}/relationships/lists/"
            },
        },
    )


_BASE = "/api/profile-bulk-import-jobs"
ROUTES = [
    Route("POST", _BASE, "bulk_import_profiles", bulk_import_profiles),
    Route("GET", _BASE, "get_bulk_import_profiles_jobs", get_jobs),
    Route("GET", _BASE + "/{id}", "get_bulk_import_profiles_job", get_job),
    Route(
        "GET", _BASE + "/{id}/import-errors", "get_errors_for_bulk_import_profiles_job", get_errors
    ),
    Route(
        "GET",
        _BASE + "/{id}/profiles",
        "get_profiles_for_bulk_import_profiles_job",
        get_job_profiles,
    ),
    Route(
        "GET",
        _BASE + "/{id}/relationships/profiles",
        "get_profile_ids_for_bulk_import_profiles_job",
        get_job_profile_ids,
    ),
    Route("GET", _BASE + "/{id}/lists", "get_list_for_bulk_import_profiles_job", get_job_lists),
    Route(
        "GET",
        _BASE + "/{id}/relationships/lists",
        "get_list_ids_for_bulk_import_profiles_job",
        get_job_list_ids,
    ),
]
