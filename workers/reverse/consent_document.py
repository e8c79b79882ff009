"""The JSON the CRM receives for a ``consent.changed`` stream entry (docs/REVERSE_SYNC.md)."""

from __future__ import annotations

from typing import Any


def consent_document(entry_id: str, fields: dict[str, str]) -> dict[str, Any]:
    """``{"id", "type": "consent.changed", "account", "contact_id", "profile", "channel",
    "consent", "reason", "occurred_at"}``; ``id`` is the stream entry's, stable across
    retries."""
    return {
        **document_head(entry_id, fields),
        "contact_id": fields.get("contact_id"),
        "profile": delivered_profile(fields),
        "channel": fields.get("channel"),
        "consent": fields.get("consent"),
        "reason": fields.get("reason") or None,
        "occurred_at": fields.get("occurred_at") or None,
    }


def document_head(entry_id: str, fields: dict[str, str]) -> dict[str, Any]:
    """``id``, ``type`` and ``account``: the start of every document the CRM receives."""
    return {"id": entry_id, "type": fields.get("type"), "account": fields.get("account")}


def delivered_profile(fields: dict[str, str]) -> dict[str, Any]:
    """The ``profile`` object of a delivered document (empty values as null)."""
    return {"id": fields.get("profile_id"), "email": fields.get("email") or None,
            "phone": fields.get("phone") or None}
