"""The inspection API's switches of Klaviyo's hard edges: strictness, key states, and forcing
a bulk import job ``cancelled`` or gone (``/__sandbox/``, no auth)."""

from __future__ import annotations

from typing import Any

import orjson

from sandbox.config import KEY_STATES
from sandbox.errors import invalid, not_found
from sandbox.http import Reply, Request, Route
from sandbox.ids import iso, now
from sandbox.job_runner import cancel, expire
from sandbox.store import Account, ImportJob
from sandbox.strictness import StrictnessError


def body_of(req: Request) -> dict[str, Any]:
    """The JSON object sent to the inspection API ({} when empty), or 400."""
    if not req.body:
        return {}
    try:
        body = orjson.loads(req.body)
    except orjson.JSONDecodeError:
        raise invalid("The body is not JSON.", pointer="") from None
    if not isinstance(body, dict):
        raise invalid("The body must be a JSON object.", pointer="")
    return body


def account_of(req: Request) -> Account:
    """The account of the path's ``{key}``, or 404."""
    account = req.state.store.accounts.get(req.params["key"])
    if account is None:
        raise not_found("No account has that key.")
    return account


def get_strictness(req: Request) -> Reply:
    """The strictness settings."""
    return Reply(200, req.state.strictness.describe())


def set_strictness(req: Request) -> Reply:
    """``{"bulk_validation": "sync"|"async", "name_bad_rows": N, "phone_identity": bool,
    "one_list_per_job": bool, "opaque_job_ids": bool}``, any subset; answers all of them."""
    try:
        req.state.strictness.update(body_of(req))
    except StrictnessError as err:
        raise invalid(str(err), pointer=f"/{err.name}") from None
    return Reply(200, req.state.strictness.describe())


def set_key_state(req: Request) -> Reply:
    """``{"state": "ok"|"revoked"|"no_scope"}`` for an existing key; its data is kept."""
    account = req.state.store.accounts.get(req.params["key"])
    if account is None:
        raise not_found("No account has that key.")
    state = body_of(req).get("state")
    if state not in KEY_STATES:
        raise invalid("'state' must be 'ok', 'revoked' or 'no_scope'.", pointer="/state")
    account.state = state
    return Reply(200, {"key": account.key, "state": state})


def _job(req: Request) -> ImportJob:
    job = account_of(req).import_jobs.get(req.params["id"])
    if job is None or job.expired(now()):
        raise not_found("No bulk import job has that id.")
    return job


def _job_json(job: ImportJob) -> dict[str, Any]:
    return {
        "id": job.id,
        "status": job.status,
        "created_at": iso(job.created_at),
        "expires_at": iso(job.expires_at),
    }


def cancel_job(req: Request) -> Reply:
    """The job becomes ``cancelled`` whatever its state; rows not yet applied never will be."""
    job = _job(req)
    cancel(job)
    return Reply(200, _job_json(job))


def expire_job(req: Request) -> Reply:
    """The job expires now: Klaviyo forgets it and its GETs answer 404."""
    job = _job(req)
    expire(job)
    return Reply(200, _job_json(job))


_P = "/__sandbox"
CONTROL_ROUTES = [
    Route("GET", _P + "/strictness", "strictness", get_strictness),
    Route("PUT", _P + "/strictness", "strictness", set_strictness),
    Route("PUT", _P + "/keys/{key}", "key", set_key_state),
    Route("POST", _P + "/accounts/{key}/jobs/{id}/cancel", "job", cancel_job),
    Route("POST", _P + "/accounts/{key}/jobs/{id}/expire", "job", expire_job),
]
