"""Request bodies and small waits shared by the sandbox tests."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

from klaviyo_api import KlaviyoAPI


def profile_body(**attrs: object) -> dict[str, Any]:
    """A create/profile-import body."""
    return {"data": {"type": "profile", "attributes": attrs}}


def import_body(rows: Sequence[Mapping[str, object]], list_id: str | None = None) -> dict[str, Any]:
    """A bulk-import body; each row is a profile's attributes."""
    data: dict[str, Any] = {
        "type": "profile-bulk-import-job",
        "attributes": {
            "profiles": {"data": [{"type": "profile", "attributes": row} for row in rows]}
        },
    }
    if list_id is not None:
        data["relationships"] = {"lists": {"data": [{"type": "list", "id": list_id}]}}
    return {"data": data}


def make_list(klaviyo: KlaviyoAPI, name: str = "Newsletter", opt_in: str = "single_opt_in") -> str:
    """Create a list and return its id."""
    answer = klaviyo.Lists.create_list(
        {"data": {"type": "list", "attributes": {"name": name, "opt_in_process": opt_in}}}
    )
    list_id: str = answer.data.id
    return list_id


def wait_complete(klaviyo: KlaviyoAPI, job_id: str, timeout: float = 10.0) -> Any:
    """Poll the bulk-import job until ``complete``; returns the last job document."""
    deadline = time.monotonic() + timeout
    while True:
        job = klaviyo.Profiles.get_bulk_import_profiles_job(job_id)
        if job.data.attributes.status == "complete" or time.monotonic() > deadline:
            return job
        time.sleep(0.02)


def errors_of(exc: BaseException) -> list[dict[str, Any]]:
    """The ``errors`` of an SDK exception's JSON body."""
    body = getattr(exc, "body", None) or "{}"
    errors: list[dict[str, Any]] = json.loads(body)["errors"]
    return errors


def raw_headers(key: str | None) -> dict[str, str]:
    """Headers of a raw HTTP call to the sandbox's /api (no key: no Authorization)."""
    headers = {"revision": "2026-10-15", "content-type": "application/vnd.api+json"}
    if key:
        headers["Authorization"] = f"Klaviyo-API-Key {key}"
    return headers
