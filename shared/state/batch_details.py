"""Per-contact details of a batch: the contacts it did not send (filtered out, invalid
email, held back by the cap, unencodable, email conflicts), those it sent without their
phone, and those Klaviyo refused, each with its outcome and reason. Contact ids only,
never an email or a phone.

Hash :func:`shared.constants.batch_details`; it lives and dies with the batch's history
(:func:`workers.push.lifecycle._retire` deletes it with the batch beyond the newest 100).
A bulk export of a million contacts must not leave a million-field hash per batch, so at
most :data:`DETAILS_KEPT_PER_OUTCOME` contacts per outcome are written per call (the counts
of the report stay exact; the detail names the first ones).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import redis

from shared import constants as keys
from shared.redis_text import as_text

DETAILS_KEPT_PER_OUTCOME = 1_000
REJECTED = "rejected"
"""The outcome of a contact Klaviyo refused (its reason: Klaviyo's code and detail)."""


@dataclass(frozen=True)
class ContactOutcome:
    """Why one contact of a batch was not sent as is."""

    contact_id: str
    outcome: str
    reason: str


def bounded(details: dict[str, dict[str, str]],
            keep: int = DETAILS_KEPT_PER_OUTCOME) -> dict[str, dict[str, str]]:
    """The first ``keep`` contacts (by id) of each outcome."""
    seen: dict[str, int] = {}
    kept: dict[str, dict[str, str]] = {}
    for cid in sorted(details):
        outcome = details[cid].get("outcome", "")
        seen[outcome] = seen.get(outcome, 0) + 1
        if seen[outcome] <= keep:
            kept[cid] = details[cid]
    return kept


def record_details(pipe: Any, account: str, batch_id: str,
                   details: dict[str, dict[str, str]]) -> None:
    """Write ``contact id -> {outcome, reason}`` (in ``pipe``), bounded per outcome."""
    if details:
        pipe.hset(keys.batch_details(account, batch_id),
                  mapping={cid: json.dumps(d) for cid, d in bounded(details).items()})


def read_details(client: redis.Redis, account: str, batch_id: str) -> list[ContactOutcome]:
    """The batch's recorded contacts, by outcome then contact id."""
    raw: dict[Any, Any] = client.hgetall(keys.batch_details(account, batch_id))
    found = []
    for cid, value in raw.items():
        try:
            data: dict[str, Any] = json.loads(as_text(value))
        except ValueError:
            data = {}
        found.append(ContactOutcome(as_text(cid), str(data.get("outcome") or "unknown"),
                                    str(data.get("reason") or "")))
    return sorted(found, key=lambda item: (item.outcome, item.contact_id))
