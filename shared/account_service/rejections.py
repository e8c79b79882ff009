"""Contacts Klaviyo refused, and re-sending them once the CRM fixed them."""

from __future__ import annotations

from datetime import UTC, datetime

import redis

from shared.account_service.accounts import existing
from shared.account_service.models import Rejected, Replayed
from shared.settings import Settings
from shared.state.rejections import list_rejections, replay_rejections


def rejected(client: redis.Redis, settings: Settings, name: str) -> list[Rejected]:
    """Newest refusal first; ids and Klaviyo's (masked) words, never an email."""
    existing(client, settings, name)
    return [Rejected(contact_id=item.contact_id, code=item.code, title=item.title,
                     detail=item.detail, field=item.field, batch_id=item.batch_id,
                     at=datetime.fromtimestamp(item.at, UTC))
            for item in list_rejections(client, name)]


def replay(client: redis.Redis, settings: Settings, name: str,
           contact_ids: list[str] | None) -> Replayed:
    """Put the given rejected contacts (``None`` = all) back into pending."""
    existing(client, settings, name)
    moved = replay_rejections(client, name, contact_ids)
    skipped = sorted(set(contact_ids or []) - set(moved))
    return Replayed(replayed=moved, not_rejected=skipped)
