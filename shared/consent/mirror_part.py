"""The consent the CRM sent, in the compact contact mirror (:mod:`shared.state.contact_mirror`):
a ninth payload item ``[marketing_consented_at, sms_marketing code, sms_consented_at]`` (times
ISO 8601), present only when one of them is set, so a contact without consent is stored as
before."""

from __future__ import annotations

from datetime import datetime
from typing import Any

SMS_CODES = {"subscribed": "s", "unsubscribed": "u", "unknown": "k"}
"""As the mirror's marketing codes (the mirror imports this module, not the other way)."""
CODE_SMS = {code: name for name, code in SMS_CODES.items()}
DEFAULTS: dict[str, Any] = {"marketing_consented_at": None, "sms_marketing": "unknown",
                            "sms_consented_at": None}


def _text(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value


CONSENTED = "consented"
"""The facet's marketing of a contact subscribed with a consent time."""


def facet_marketing(contact: dict[str, Any]) -> str:
    """The marketing a contact is counted under in the preview's facets: ``consented`` for
    ``subscribed`` with ``marketing_consented_at`` (the sync subscribes them), else its own."""
    marketing = str(contact.get("marketing") or "unknown")
    if marketing == "subscribed" and contact.get("marketing_consented_at") is not None:
        return CONSENTED
    return marketing


def consent_part(contact: dict[str, Any]) -> tuple[Any, ...]:
    """``()`` or a one-item tuple: the ninth payload item of ``contact`` (a validated dict)."""
    email_at, sms, sms_at = (contact.get("marketing_consented_at"),
                             contact.get("sms_marketing") or "unknown",
                             contact.get("sms_consented_at"))
    if email_at is None and sms == "unknown" and sms_at is None:
        return ()
    return ([_text(email_at), SMS_CODES[sms], _text(sms_at)],)


def consent_fields(part: list[Any]) -> dict[str, Any]:
    """The contact's consent fields of a decoded ninth item (``[]``: none sent)."""
    if not part:
        return dict(DEFAULTS)
    email_at, sms, sms_at = part[0]
    return {"marketing_consented_at": datetime.fromisoformat(email_at) if email_at else None,
            "sms_marketing": CODE_SMS[sms],
            "sms_consented_at": datetime.fromisoformat(sms_at) if sms_at else None}
