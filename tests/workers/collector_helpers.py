"""Stream entries as the producers write them (``event`` JSON + ``origin``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import redis

from shared import constants as keys
from shared.events import ContactEvent


def event(
    contact_id: str, at: float, account: str = "acme", email: str | None = None,
    deleted: bool = False, **contact: Any,
) -> ContactEvent:
    return ContactEvent.model_validate({
        "event_id": f"evt-{contact_id}-{at}",
        "account_id": account,
        "type": "contact.deleted" if deleted else "contact.upserted",
        "occurred_at": datetime.fromtimestamp(at, UTC).isoformat(),
        "contact": {"id": contact_id, "email": email or f"{contact_id.lower()}@example.com",
                    **contact},
    })


def publish(r: redis.Redis, *events: ContactEvent, origin: str = "webhook") -> list[str]:
    pipe = r.pipeline(transaction=False)
    for item in events:
        pipe.xadd(keys.EVENTS_STREAM, {"event": item.model_dump_json(), "origin": origin})
    return [str(entry_id) for entry_id in pipe.execute()]
