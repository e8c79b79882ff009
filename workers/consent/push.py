"""What a chunk of the push side does about consent, beside its bulk import.

:func:`before_consent` runs once the import job is complete, before the chunk's
unsubscribes: it records the chunk's contacts in the consent ledger
(:mod:`shared.consent.ledger`) with the state the sync itself is setting (an unsubscribe),
so the consent pull knows which profiles the CRM sent and never reports the sync's own
doing back.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import redis

from shared.consent.ledger import SentContact, record_sent

UNSUBSCRIBED_KEY = "unsubscribed:UNSUBSCRIBE"
"""What Klaviyo shows after the sync's own email unsubscribe (consent and suppression)."""


def before_consent(client: redis.Redis, account: str, rows: Sequence[dict[str, Any]]) -> None:
    """Record the rows' contacts (see the module docstring)."""
    record_sent(client, account, (
        SentContact(email=row["email"], contact_id=contact_id,
                    email_key=UNSUBSCRIBED_KEY if row.get("unsubscribe") else None)
        for row in rows for contact_id in row.get("contact_ids") or ()), time.time())
