"""The consent a contact's row carries to its chunk: what the CRM asked for, with a time.

``{"email_at": ISO}`` when the CRM says ``marketing: subscribed`` with
``marketing_consented_at`` (consent is never invented: without the time nobody is
subscribed); ``"sms": "subscribed"|"unsubscribed"`` with ``"sms_at"`` for SMS. ``None`` when
there is nothing to do, so rows (and fingerprints) of contacts without consent are as
before.
"""

from __future__ import annotations

from typing import Any

import orjson

from shared.events import Contact


def consent_wish(contact: Contact) -> dict[str, Any] | None:
    """What the row asks of Klaviyo's consent (see the module docstring)."""
    wish: dict[str, Any] = {}
    if contact.marketing == "subscribed" and contact.marketing_consented_at is not None:
        wish["email_at"] = contact.marketing_consented_at.isoformat()
    if contact.sms_marketing == "subscribed" and contact.sms_consented_at is not None:
        wish["sms"] = "subscribed"
        wish["sms_at"] = contact.sms_consented_at.isoformat()
    elif contact.sms_marketing == "unsubscribed":
        wish["sms"] = "unsubscribed"
    return wish or None


def with_consent(marketing: str, wish: dict[str, Any] | None) -> str:
    """What the row's fingerprint covers besides its attributes: a change of consent alone
    sends the contact again; a contact without consent keeps its fingerprint."""
    if not wish:
        return marketing
    return marketing + "|" + orjson.dumps(wish, option=orjson.OPT_SORT_KEYS).decode()
