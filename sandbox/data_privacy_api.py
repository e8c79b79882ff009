"""Data privacy: ``request_profile_deletion`` (``POST /api/data-privacy-deletion-jobs``).

The body names a profile by exactly one of ``id``, ``email`` or ``phone_number``; several
(or none) is a 400, as the spec says. Every profile that identifier matches is deleted, with
its list memberships and its place in the identifier indexes. Klaviyo deletes
asynchronously; the sandbox deletes before it answers 202 (no body), so a test sees the
outcome at once. An identifier that matches nothing is a 202 as well (nothing to delete).
"""

from __future__ import annotations

from typing import Any

from sandbox.errors import invalid
from sandbox.http import Reply, Request, Route, attributes_of, data_object
from sandbox.identity import normalize_email
from sandbox.store import Account

POINTER = "/data/attributes/profile/data"


def _identifier(data: dict[str, Any]) -> tuple[str, str]:
    """(name, value) of the one identifier the request names, or 400."""
    attrs = data.get("attributes")
    if not isinstance(attrs, dict):
        raise invalid("'attributes' is required and must be an object.",
                      pointer=POINTER + "/attributes")
    named = [("id", data.get("id"))] if data.get("id") is not None else []
    named += [(name, attrs[name]) for name in ("email", "phone_number")
              if attrs.get(name) is not None]
    if len(named) != 1 or not isinstance(named[0][1], str) or not named[0][1]:
        raise invalid("Exactly one of id, email or phone_number must be provided.",
                      pointer=POINTER)
    return named[0][0], named[0][1]


def delete_profile(account: Account, profile_id: str) -> None:
    """Forget one profile: record, indexes, order, list memberships."""
    profile = account.profiles.pop(profile_id, None)
    if profile is None:
        return
    for name, index in account.indexes.items():
        value = getattr(profile, name)
        if value is not None and index.get(value) == profile_id:
            del index[value]
    account.order.remove(profile_id)
    for rec in account.lists.values():
        rec.remove(profile_id)


def request_profile_deletion(req: Request) -> Reply:
    """POST /api/data-privacy-deletion-jobs: 202, the matching profile deleted."""
    data = data_object(req.json(), "data-privacy-deletion-job")
    profile = attributes_of(data).get("profile")
    inner = profile.get("data") if isinstance(profile, dict) else None
    if not isinstance(inner, dict) or inner.get("type") != "profile":
        raise invalid("'profile.data' must be a profile.", pointer=POINTER)
    name, value = _identifier(inner)
    account = req.acct
    if name == "id":
        found = value if value in account.profiles else None
    else:
        if name == "email":
            value = normalize_email(value, req.state.config.lowercase_emails)
        found = account.indexes[name].get(value)
    if found is not None:
        delete_profile(account, found)
    return Reply(202)


ROUTES = [
    Route("POST", "/api/data-privacy-deletion-jobs", "request_profile_deletion",
          request_profile_deletion),
]
