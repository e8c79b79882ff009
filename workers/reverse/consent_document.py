"""The JSON the CRM receives for a ``consent.changed`` stream entry (docs/REVERSE_SYNC.md)."""

from __future__ import annotations

from typing import Any


def consent_document(entry_id: str, fields: dict[str, str]) -> dict[str, Any]:
    """``{"id", "type": "consent.changed", "account", "contact_id", "profile", "channel",
    "consent", "reason", "occurred_at"}``; ``id`` is the stream entry's, stable across
    retries."""
    def value(name: str) -> str | None:
        return fields.get(name) or None

    return {
        "id": entry_id,
        "type": fields.get("type"),
        "account": fields.get("account"),
        "contact_id": fields.get("contact_id"),
        "profile": {"id": fields.get("profile_id"), "email": value("email"),
                    "phone": value("phone")},
        "channel": fields.get("channel"),
        "consent": fields.get("consent"),
        "reason": value("reason"),
        "occurred_at": value("occurred_at"),
    }
