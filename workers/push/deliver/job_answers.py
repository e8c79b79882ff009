"""Reading a complete bulk import job's answers: the profiles it made and the rows it
refused, every page of them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.settings import get_settings
from workers.push.deliver.import_refusals import ROW_POINTER
from workers.runtime.actor_context import Klaviyo

PAGE = 100
Row = dict[str, Any]


def job_pages(klaviyo: Klaviyo, operation: str, fn: Any, job_id: str, **kwargs: Any
              ) -> list[dict[str, Any]]:
    """Every page of one of the job's lists (its errors, its profiles)."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        answer: Any = klaviyo.gateway.call(operation, fn, job_id, page_size=PAGE,
                                           page_cursor=cursor, **kwargs)
        items += (answer or {}).get("data") or []
        cursor = ((answer or {}).get("links") or {}).get("next")
        if not cursor:
            return items


def row_errors(errors: list[dict[str, Any]], rows: list[Row]
               ) -> dict[int, tuple[Row, dict[str, str]]]:
    """Row index -> (row, Klaviyo's error), by pointer or by the payload's email."""
    by_email = {row["email"]: index for index, row in enumerate(rows)}
    found: dict[int, tuple[Row, dict[str, str]]] = {}
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
            reason = {k: str(attrs.get(k) or "") for k in ("code", "title", "detail")}
            reason["field"] = (match.group(2) or "") if match else ""
            found[index] = (rows[index], reason)
    return found


def parse_time(value: Any) -> datetime | None:
    """An ISO time of Klaviyo's, or None when it is not one."""
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def learn_profiles(klaviyo: Klaviyo, job_id: str, job: dict[str, Any], rows: int
                   ) -> dict[str, tuple[str, bool]]:
    """email -> (profile id, created by this job), for jobs small enough to read."""
    learnt: dict[str, tuple[str, bool]] = {}
    if rows > get_settings().tuning.job_profile_pages * PAGE:
        return learnt
    started = parse_time((job.get("attributes") or {}).get("created_at"))
    for profile in job_pages(klaviyo, "get_profiles_for_bulk_import_profiles_job",
                          klaviyo.api.Profiles.get_profiles_for_bulk_import_profiles_job,
                          job_id, fields_profile=["email", "created"]):
        attrs = profile.get("attributes") or {}
        created = parse_time(attrs.get("created"))
        email = str(attrs.get("email") or "").strip().lower()
        learnt[email] = (str(profile["id"]), bool(created and started and created >= started))
    return learnt
