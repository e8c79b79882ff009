"""An erasure asked through the account API (``POST /v1/accounts/{a}/contacts/{id}/erase``):
the same ``contact.erased`` event the webhook takes, made here and appended by the route."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import redis
from pydantic import ValidationError

from shared.account_service.accounts import existing
from shared.account_service.errors import invalid_field
from shared.account_service.models import ErasureRequested
from shared.events import ERASED, ContactEvent
from shared.settings import Settings


def erasure_event(client: redis.Redis, settings: Settings, name: str, contact_id: str
                  ) -> ContactEvent:
    """The erasure of ``contact_id`` now, for an existing account (a 404 otherwise); a 422
    naming ``contact_id`` when it cannot be a contact's id."""
    existing(client, settings, name)
    try:
        return ContactEvent.model_validate({
            "event_id": f"erase-{uuid.uuid4().hex}", "account_id": name, "type": ERASED,
            "occurred_at": datetime.now(UTC), "contact": {"id": contact_id}})
    except ValidationError:
        raise invalid_field("contact_id", "not a contact id (1 to 255 characters)") from None


def requested(event: ContactEvent) -> ErasureRequested:
    """The answer once ``event`` is stored."""
    return ErasureRequested(
        account=event.account_id, contact_id=event.contact.id, erased_at=event.occurred_at,
        detail="stored; the next batch erases the profile in Klaviyo and forgets the contact "
               "here (a change older than erased_at is refused from now on)")
