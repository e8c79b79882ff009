"""JSON:API documents of profiles, lists and jobs, with ``links.self`` everywhere."""

from __future__ import annotations

from typing import Any

from sandbox.ids import iso
from sandbox.store import Account, Channel, ImportJob, ListRec, Profile, SuppressJob


def _channel(channel: Channel, flag: str, can: bool) -> dict[str, Any]:
    return {
        flag: can,
        "consent": channel.consent,
        "consent_timestamp": iso(channel.consent_timestamp),
        "last_updated": iso(channel.last_updated),
        "method": channel.method,
        "method_detail": channel.method_detail,
    }


def subscriptions(profile: Profile) -> dict[str, Any]:
    """The ``subscriptions`` object of ``additional-fields[profile]=subscriptions``."""
    email = profile.email_marketing
    can_email = bool(profile.email) and email.consent == "SUBSCRIBED" and not profile.suppressions
    marketing = _channel(email, "can_receive_email_marketing", can_email)
    marketing.update(
        {
            "custom_method_detail": None,
            "double_optin": None,
            "suppression": list(profile.suppressions),
            "list_suppressions": list(profile.list_suppressions),
        }
    )
    sms = profile.sms_marketing
    return {
        "email": {"marketing": marketing},
        "sms": {
            "marketing": _channel(
                sms,
                "can_receive_sms_marketing",
                bool(profile.phone_number) and sms.consent == "SUBSCRIBED",
            ),
            "transactional": _channel(Channel(), "can_receive_sms_transactional", False),
        },
        "mobile_push": {
            "marketing": {
                "can_receive_push_marketing": False,
                "consent": "NEVER_SUBSCRIBED",
                "consent_timestamp": None,
            }
        },
    }


def profile_attributes(profile: Profile) -> dict[str, Any]:
    """All readable attributes of a profile."""
    fields = profile.fields
    location = fields.get("location")
    return {
        "email": profile.email,
        "phone_number": profile.phone_number,
        "external_id": profile.external_id,
        "first_name": fields.get("first_name"),
        "last_name": fields.get("last_name"),
        "organization": fields.get("organization"),
        "locale": fields.get("locale"),
        "title": fields.get("title"),
        "image": fields.get("image"),
        "created": iso(profile.created),
        "updated": iso(profile.updated),
        "last_event_date": None,
        # the spec's location and its latitude/longitude are not nullable: known keys only
        "location": {k: v for k, v in (location or {}).items() if v is not None},
        "properties": dict(fields.get("properties") or {}),
    }


def _rel(base: str, owner: str, owner_id: str, name: str) -> dict[str, Any]:
    return {
        "links": {
            "self": f"{base}/api/{owner}/{owner_id}/relationships/{name}/",
            "related": f"{base}/api/{owner}/{owner_id}/{name}/",
        }
    }


def profile_resource(
    profile: Profile,
    base: str,
    query: dict[str, str],
    *,
    joined: Any = None,
) -> dict[str, Any]:
    """A ``profile`` resource honouring ``additional-fields[profile]`` and ``fields[profile]``."""
    attrs = profile_attributes(profile)
    additional = query.get("additional-fields[profile]", "")
    if "subscriptions" in additional:
        attrs["subscriptions"] = subscriptions(profile)
    if "predictive_analytics" in additional:
        attrs["predictive_analytics"] = {}
    if joined is not None:
        attrs["joined_group_at"] = iso(joined)
    sparse = query.get("fields[profile]")
    if sparse:
        wanted = {name.strip() for name in sparse.split(",")}
        attrs = {
            k: v
            for k, v in attrs.items()
            if k in wanted or k.split(".")[0] in wanted or k == "joined_group_at"
        }
    return {
        "type": "profile",
        "id": profile.id,
        "attributes": attrs,
        "relationships": {
            "lists": _rel(base, "profiles", profile.id, "lists"),
            "segments": _rel(base, "profiles", profile.id, "segments"),
        },
        "links": {"self": f"{base}/api/profiles/{profile.id}/"},
    }


def list_resource(rec: ListRec, base: str, query: dict[str, str]) -> dict[str, Any]:
    """A ``list`` resource; ``profile_count`` when asked for."""
    attrs: dict[str, Any] = {
        "name": rec.name,
        "created": iso(rec.created),
        "updated": iso(rec.updated),
        "opt_in_process": rec.opt_in_process,
    }
    if "profile_count" in query.get("additional-fields[list]", ""):
        attrs["profile_count"] = len(rec.members)
    return {
        "type": "list",
        "id": rec.id,
        "attributes": attrs,
        "relationships": {
            "profiles": _rel(base, "lists", rec.id, "profiles"),
            "tags": _rel(base, "lists", rec.id, "tags"),
            "flow-triggers": _rel(base, "lists", rec.id, "flow-triggers"),
        },
        "links": {"self": f"{base}/api/lists/{rec.id}/"},
    }


def import_job_resource(job: ImportJob, base: str) -> dict[str, Any]:
    """A ``profile-bulk-import-job`` resource."""
    path = f"{base}/api/profile-bulk-import-jobs/{job.id}"
    return {
        "type": "profile-bulk-import-job",
        "id": job.id,
        "attributes": {
            "status": job.status,
            "created_at": iso(job.created_at),
            "total_count": job.total_count,
            "completed_count": job.completed_count,
            "failed_count": job.failed_count,
            "completed_at": iso(job.completed_at),
            "expires_at": iso(job.expires_at),
            "started_at": iso(job.started_at),
        },
        "relationships": {
            "lists": {
                "data": [{"type": "list", "id": lid} for lid in job.list_ids],
                "links": {"self": f"{path}/relationships/lists/", "related": f"{path}/lists/"},
            },
            "profiles": {
                "links": {"self": f"{path}/relationships/profiles/", "related": f"{path}/profiles/"}
            },
            "import-errors": {"links": {"related": f"{path}/import-errors/"}},
        },
        "links": {"self": f"{path}/"},
    }


def suppress_job_resource(job: SuppressJob, base: str) -> dict[str, Any]:
    """A ``profile-suppression-bulk-create-job`` resource."""
    path = f"{base}/api/profile-suppression-bulk-create-jobs/{job.id}"
    return {
        "type": "profile-suppression-bulk-create-job",
        "id": job.id,
        "attributes": {
            "status": job.status,
            "created_at": iso(job.created_at),
            "total_count": job.total_count,
            "completed_count": job.completed_count,
            "skipped_count": job.skipped_count,
            "completed_at": iso(job.created_at),
        },
        "relationships": {
            "lists": {
                "data": [{"type": "list", "id": job.list_id}] if job.list_id else [],
                "links": {"self": f"{path}/relationships/lists/", "related": f"{path}/lists/"},
            },
            "segments": {
                "data": [],
                "links": {
                    "self": f"{path}/relationships/segments/",
                    "related": f"{path}/segments/",
                },
            },
        },
        "links": {"self": f"{path}/"},
    }


def account_dump(account: Account) -> dict[str, Any]:
    """The inspection API's view of an account's profiles (with subscriptions and list ids)."""
    memberships: dict[str, list[str]] = {}
    for rec in account.lists.values():
        for pid in rec.members:
            memberships.setdefault(pid, []).append(rec.id)
    out = []
    for pid in account.order:
        profile = account.profiles[pid]
        item = {
            "id": pid,
            **profile_attributes(profile),
            "subscriptions": subscriptions(profile),
            "lists": memberships.get(pid, []),
        }
        out.append(item)
    return {"profiles": out}
