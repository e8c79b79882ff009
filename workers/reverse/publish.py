"""Publishing list sign-ups and departures onto ``sync:{account}:subscribers``.

Each change is one stream entry (flat string fields, schema in docs/REVERSE_SYNC.md); the
CRM delivery picks entries up through the stream's outbox group (:mod:`workers.reverse.outbox`)
and reads the email and phone from the entry (its messages carry ids only).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis

from shared import constants as keys
from shared.consent.ledger import CONSENT_CHANGED
from shared.lua_scripts import lua_script
from shared.redis_text import as_text, as_texts
from workers.reverse.consent_document import (
    consent_document,
    delivered_profile,
    document_head,
)

ADDED = "subscriber.added"
REMOVED = "subscriber.removed"
STREAM_MAXLEN = 1_000_000
"""The stream is trimmed (approximately) beyond this many entries."""

@dataclass(frozen=True)
class Member:
    """One list member as Klaviyo reported it."""

    profile_id: str
    email: str | None = None
    phone: str | None = None
    joined_group_at: str | None = None
    consent: str | None = None

    @classmethod
    def from_resource(cls, item: dict[str, Any]) -> Member:
        """From a ``get_profiles_for_list`` item (with ``additional-fields=subscriptions``)."""
        attrs = item.get("attributes") or {}
        marketing = (((attrs.get("subscriptions") or {}).get("email") or {})
                     .get("marketing") or {})
        consent = marketing.get("consent")
        return cls(profile_id=str(item["id"]), email=attrs.get("email"),
                   phone=attrs.get("phone_number"),
                   joined_group_at=_text_or_none(attrs.get("joined_group_at")),
                   consent=str(consent) if consent else None)


def _text_or_none(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


PUBLISH_CHANGE = lua_script(__file__, "publish_change.lua")


class Publisher:
    """Publishes the changes of one list of one account."""

    def __init__(self, client: redis.Redis, account: str, list_id: str, list_name: str,
                 now: Callable[[], float]) -> None:
        self.client = client
        self.account = account
        self.list_id = list_id
        self.list_name = list_name
        self.now = now
        self._script = PUBLISH_CHANGE.on(client)

    def _publish(self, op: str, kind: str, member: Member) -> str | None:
        fields = {
            "type": kind, "account": self.account, "list_id": self.list_id,
            "list_name": self.list_name, "profile_id": member.profile_id,
            "email": member.email or "", "phone": member.phone or "",
            "joined_group_at": member.joined_group_at or "", "consent": member.consent or "",
            "published_at": repr(self.now()),
        }
        args: list[Any] = [op, member.profile_id, STREAM_MAXLEN]
        for name, value in fields.items():
            args += [name, value]
        entry = self._script(keys=[keys.list_members(self.account, self.list_id),
                                   keys.subscribers_stream(self.account)], args=args)
        if not entry:
            return None
        return as_text(entry)

    def added(self, member: Member) -> str | None:
        """Publish a new member (``None``: already published)."""
        return self._publish("add", ADDED, member)

    def removed(self, profile_id: str) -> str | None:
        """Publish a member who left (``None``: not a known member)."""
        return self._publish("remove", REMOVED, Member(profile_id=profile_id))


def entry_fields(client: redis.Redis, account: str, entry_id: str) -> dict[str, str] | None:
    """The fields of one stream entry, or ``None`` when it is not (or no longer) there."""
    found: Any = client.xrange(keys.subscribers_stream(account), entry_id, entry_id)
    if not found:
        return None
    _id, fields = found[0]
    return as_texts(fields)


def crm_document(entry_id: str, fields: dict[str, str]) -> dict[str, Any]:
    """The JSON the CRM receives for one stream entry (docs/REVERSE_SYNC.md)."""
    if fields.get("type") == CONSENT_CHANGED:
        return consent_document(entry_id, fields)

    return {
        **document_head(entry_id, fields),
        "list": {"id": fields.get("list_id"), "name": fields.get("list_name")},
        "profile": delivered_profile(fields),
        "joined_group_at": fields.get("joined_group_at") or None,
        "consent": fields.get("consent") or None,
    }


def crm_body(entry_id: str, fields: dict[str, str]) -> bytes:
    return json.dumps(crm_document(entry_id, fields), separators=(",", ":")).encode()
