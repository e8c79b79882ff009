"""Profile bulk-import jobs: accept (202) or refuse whole (400), and the job's sub-resources.

How a job then runs (queued, processing, complete; cancelled; expired) is ``job_runner``;
the rules a row must meet are ``bulk_rows``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sandbox.bulk_rows import Checked, checked_rows
from sandbox.errors import invalid, not_found
from sandbox.filters import check_allowed, parse_filter, values_of
from sandbox.gc_pause import gc_paused
from sandbox.http import Reply, Request, Route, attributes_of, data_object, profile_rows
from sandbox.ids import job_id, now, ulid
from sandbox.job_runner import process_all, process_later
from sandbox.jsonapi import import_job_resource, list_resource, profile_resource
from sandbox.paging import paginate
from sandbox.store import Account, ImportJob

MAX_PROFILES = 10_000
MAX_BYTES = 5 * 1024 * 1024
RETENTION = timedelta(days=7)
"""A real job's ``expires_at`` is its ``created_at`` plus 7 days (docs/KLAVIYO.md §4)."""


def bulk_import_profiles(req: Request) -> Reply:
    """POST /api/profile-bulk-import-jobs: 202 with the queued job, or 400 and no job.

    Checked in this order: size, shape, row count, the list (a 400 about it names no row),
    then, with ``bulk_validation`` ``sync``, every row (one bad row refuses the whole job).
    """
    with gc_paused():
        return _bulk_import_profiles(req)


def _bulk_import_profiles(req: Request) -> Reply:
    if req.too_large(MAX_BYTES):
        raise invalid("The payload exceeds the maximum size of 5 MB.", pointer="/data")
    data = data_object(req.json(), "profile-bulk-import-job")
    rows = profile_rows(
        attributes_of(data), MAX_PROFILES,
        f"A bulk import job accepts at most {MAX_PROFILES} profiles; got {{got}}.")
    state = req.state
    strict = state.strictness
    list_ids = _list_ids(req.acct, data.get("relationships"), strict.one_list_per_job)
    checked: list[Checked] | None = None
    if strict.bulk_validation == "sync":
        checked, refused = checked_rows(
            rows, lowercase=state.config.lowercase_emails, name_bad_rows=strict.name_bad_rows,
            refused_domains=strict.refused_email_domains, passed=req.acct.passed_rows,
        )
        if refused is not None:
            raise refused
    created = now()
    job = ImportJob(
        id=job_id() if strict.opaque_job_ids else ulid(),
        created_at=created,
        total_count=len(rows),
        rows=rows,
        checked=checked,
        list_ids=list_ids,
        expires_at=created + RETENTION,
    )
    req.acct.import_jobs[job.id] = job
    if state.job_mode == "instant":
        process_all(state, req.acct, job)
    else:
        state.spawn(process_later(state, req.acct, job))
    return Reply(
        202,
        {
            "data": import_job_resource(job, req.base),
            "links": {"self": f"{req.base}/api/profile-bulk-import-jobs/{job.id}/"},
        },
    )


def _list_ids(account: Account, relationships: Any, one_list: bool) -> list[str]:
    """The job's list ids: known lists only, and at most one with ``one_list_per_job``."""
    if relationships is None:
        return []
    lists = relationships.get("lists") if isinstance(relationships, dict) else None
    items = lists.get("data") if isinstance(lists, dict) else None
    pointer = "/data/relationships/lists/data"
    if not isinstance(items, list):
        raise invalid("'relationships.lists.data' must be an array.", pointer=pointer)
    if one_list and len(items) > 1:
        raise invalid("A bulk import job accepts at most one list.", pointer=f"{pointer}/1")
    out: list[str] = []
    for i, item in enumerate(items):
        lid = item.get("id") if isinstance(item, dict) else None
        if not isinstance(lid, str) or item.get("type") != "list":
            raise invalid(
                'Each list must be {"type": "list", "id": ...}.', pointer=f"{pointer}/{i}"
            )
        if lid not in account.lists:
            raise invalid(f"List '{lid}' does not exist.", pointer=f"{pointer}/{i}/id")
        out.append(lid)
    return out


def _job_or_404(req: Request) -> ImportJob:
    job = req.acct.import_jobs.get(req.params["id"])
    if job is None or job.expired(now()):
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
    stamp = now()
    jobs = [job for job in req.acct.import_jobs.values() if not job.expired(stamp)]
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
