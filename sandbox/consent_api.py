"""Consent: bulk subscribe (1,000), bulk unsubscribe (100), bulk suppress (100) and its job."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sandbox.errors import ApiError, invalid, not_found
from sandbox.filters import parse_datetime
from sandbox.http import Reply, Request, Route, attributes_of, data_object, profile_rows
from sandbox.identity import RowError, clean_attributes, upsert
from sandbox.ids import iso, now, ulid
from sandbox.jsonapi import suppress_job_resource
from sandbox.store import Account, Channel, ListRec, Profile, SuppressJob
from sandbox.suppressions import LIFTED_BY_SUBSCRIBE


def _rows(attrs: dict[str, Any], limit: int) -> list[dict[str, Any]]:
    rows = profile_rows(
        attrs, limit, f"At most {limit} profiles can be given per call; got {{got}}.")
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or not isinstance(row.get("attributes"), dict):
            raise invalid(
                "Each profile must be an object with 'attributes'.",
                pointer=f"/data/attributes/profiles/data/{i}",
            )
    return rows


def _target_list(account: Account, data: dict[str, Any]) -> ListRec | None:
    rel = data.get("relationships")
    if not rel:
        return None
    item = (
        rel.get("list", {}).get("data")
        if isinstance(rel, dict) and isinstance(rel.get("list"), dict)
        else None
    )
    if not isinstance(item, dict) or not isinstance(item.get("id"), str):
        raise invalid(
            '\'relationships.list.data\' must be {"type": "list", "id": ...}.',
            pointer="/data/relationships/list/data",
        )
    rec = account.lists.get(item["id"])
    if rec is None:
        raise invalid(
            f"List '{item['id']}' does not exist.", pointer="/data/relationships/list/data/id"
        )
    return rec


def _row_error(err: RowError, i: int) -> ApiError:
    pointer = f"/data/attributes/profiles/data/{i}/attributes" + (
        f"/{err.field}" if err.field else ""
    )
    return ApiError(
        err.status, err.detail, code=err.code, title=err.title, pointer=pointer, meta=err.meta
    )


def _identities(
    req: Request, rows: list[dict[str, Any]]
) -> list[tuple[dict[str, Any], str | None]]:
    """Each row's checked identifiers (email, phone) and id; 400 before anything changes."""
    out: list[tuple[dict[str, Any], str | None]] = []
    for i, row in enumerate(rows):
        attrs = {
            k: row["attributes"][k]
            for k in ("email", "phone_number")
            if row["attributes"].get(k) is not None
        }
        try:
            clean, _partial = clean_attributes(
                attrs, allow_kx=False, lowercase=req.state.config.lowercase_emails
            )
        except RowError as err:
            raise _row_error(err, i) from None
        out.append((clean, row.get("id") if isinstance(row.get("id"), str) else None))
    return out


def _identify(req: Request, identity: tuple[dict[str, Any], str | None], i: int) -> Profile:
    """Find or create the profile named by id, email or phone of a consent row."""
    try:
        profile, _created = upsert(
            req.acct, identity[0], identity[1], nulls_clear=False,
            by_phone=req.state.strictness.phone_identity,
        )
    except RowError as err:
        raise _row_error(err, i) from None
    return profile


def _channels(row: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    subs = row["attributes"].get("subscriptions") or {}
    email = (subs.get("email") or {}).get("marketing") if isinstance(subs, dict) else None
    sms = (subs.get("sms") or {}).get("marketing") if isinstance(subs, dict) else None
    return email, sms


def _set(channel: Channel, consent: str, method: str, when: Any = None) -> None:
    stamp = now()
    channel.consent = consent
    channel.consent_timestamp = when or stamp
    channel.last_updated = stamp
    channel.method = method
    channel.method_detail = "API"


def _consented_at(channel: Any, i: int) -> datetime | None:
    """A historical import's ``consented_at`` (must be in the past), or None."""
    raw = channel.get("consented_at") if isinstance(channel, dict) else None
    if raw is None:
        return None
    pointer = f"/data/attributes/profiles/data/{i}/attributes/subscriptions"
    try:
        when = parse_datetime(str(raw))
    except ValueError:
        raise invalid("'consented_at' must be an ISO 8601 datetime.", pointer=pointer) from None
    if when > now():
        raise invalid("'consented_at' must be in the past.", pointer=pointer)
    return when


def bulk_subscribe(req: Request) -> Reply:
    """POST /api/profile-subscription-bulk-create-jobs: 202, no body; processed at once."""
    data = data_object(req.json(), "profile-subscription-bulk-create-job")
    attrs = attributes_of(data)
    rows = _rows(attrs, 1000)
    historical = bool(attrs.get("historical_import"))
    rec = _target_list(req.acct, data)
    for i, row in enumerate(rows):
        email, sms = _channels(row)
        for channel in (email, sms):
            if isinstance(channel, dict) and channel.get("consented_at") and not historical:
                raise invalid(
                    "'consented_at' may only be given with historical_import.",
                    pointer=f"/data/attributes/profiles/data/{i}/attributes/subscriptions",
                )
            _consented_at(channel, i)  # validated before anything changes
    pending = rec is not None and rec.opt_in_process == "double_opt_in" and not historical
    identities = _identities(req, rows)
    for i, row in enumerate(rows):
        profile = _identify(req, identities[i], i)
        if pending:
            continue
        email, sms = _channels(row)
        if email is not None and profile.email:
            _set(profile.email_marketing, "SUBSCRIBED", "API", _consented_at(email, i))
            profile.suppressions = [
                s for s in profile.suppressions if s["reason"] not in LIFTED_BY_SUBSCRIBE
            ]
        if sms is not None and profile.phone_number:
            _set(profile.sms_marketing, "SUBSCRIBED", "API", _consented_at(sms, i))
        profile.updated = now()
        if rec is not None:
            rec.add(profile.id, now())
    return Reply(202)


def bulk_unsubscribe(req: Request) -> Reply:
    """POST /api/profile-subscription-bulk-delete-jobs: 202.

    Consent becomes UNSUBSCRIBED (plus an UNSUBSCRIBE suppression); with a list, the profile
    also leaves that list."""
    data = data_object(req.json(), "profile-subscription-bulk-delete-job")
    rows = _rows(attributes_of(data), 100)
    rec = _target_list(req.acct, data)
    stamp = now()
    identities = _identities(req, rows)
    for i, row in enumerate(rows):
        profile = _identify(req, identities[i], i)
        email, sms = _channels(row)
        if rec is not None:
            rec.remove(profile.id)
        if email is not None or sms is None:
            _set(profile.email_marketing, "UNSUBSCRIBED", "API")
            if not any(s["reason"] == "UNSUBSCRIBE" for s in profile.suppressions):
                profile.suppressions.append({"reason": "UNSUBSCRIBE", "timestamp": iso(stamp)})
        if sms is not None:
            _set(profile.sms_marketing, "UNSUBSCRIBED", "API")
        profile.updated = now()
    return Reply(202)


def bulk_suppress(req: Request) -> Reply:
    """POST /api/profile-suppression-bulk-create-jobs: 202 with the job; USER_SUPPRESSED."""
    data = data_object(req.json(), "profile-suppression-bulk-create-job")
    account = req.acct
    raw_attrs = data.get("attributes")
    attrs: dict[str, Any] = raw_attrs if isinstance(raw_attrs, dict) else {}
    rec = _target_list(account, data)
    targets: list[Profile | None] = []
    if rec is not None:
        targets = [account.profiles[pid] for pid in rec.members]
    else:
        for i, row in enumerate(_rows(attrs, 100)):
            email = row["attributes"].get("email")
            if not isinstance(email, str):
                raise invalid(
                    "'email' is required.",
                    pointer=f"/data/attributes/profiles/data/{i}/attributes/email",
                )
            pid = account.by_email.get(email.strip().lower())
            targets.append(account.profiles[pid] if pid else None)
    stamp = now()
    done = 0
    for profile in targets:
        if profile is None:
            continue
        done += 1
        if not any(s["reason"] == "USER_SUPPRESSED" for s in profile.suppressions):
            profile.suppressions.append({"reason": "USER_SUPPRESSED", "timestamp": iso(stamp)})
            profile.updated = stamp
    job = SuppressJob(
        id=ulid(),
        created_at=stamp,
        total_count=len(targets),
        completed_count=done,
        skipped_count=len(targets) - done,
        list_id=rec.id if rec else None,
    )
    account.suppress_jobs[job.id] = job
    return Reply(
        202,
        {
            "data": suppress_job_resource(job, req.base),
            "links": {"self": f"{req.base}/api/profile-suppression-bulk-create-jobs/{job.id}/"},
        },
    )


def get_suppress_job(req: Request) -> Reply:
    """GET /api/profile-suppression-bulk-create-jobs/{id}."""
    job = req.acct.suppress_jobs.get(req.params["id"])
    if job is None:
        raise not_found(f"A suppression job with id '{req.params['id']}' does not exist.")
    return Reply(
        200,
        {
            "data": suppress_job_resource(job, req.base),
            "links": {"self": f"{req.base}/api/profile-suppression-bulk-create-jobs/{job.id}/"},
        },
    )


ROUTES = [
    Route(
        "POST",
        "/api/profile-subscription-bulk-create-jobs",
        "bulk_subscribe_profiles",
        bulk_subscribe,
    ),
    Route(
        "POST",
        "/api/profile-subscription-bulk-delete-jobs",
        "bulk_unsubscribe_profiles",
        bulk_unsubscribe,
    ),
    Route(
        "POST", "/api/profile-suppression-bulk-create-jobs", "bulk_suppress_profiles", bulk_suppress
    ),
    Route(
        "GET",
        "/api/profile-suppression-bulk-create-jobs/{id}",
        "get_bulk_suppress_profiles_job",
        get_suppress_job,
    ),
]
