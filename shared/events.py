"""The CRM's contact events (the webhook's contract) and the mirrored state of a contact.

An event is validated once, at the edge (webhook, import, publish()); everything downstream
reads these models. An invalid *email* is not a schema error: the contact is kept and
excluded at sync time, counted (DESIGN.md section 3).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
Origin = Literal["webhook", "import", "publish", "resync"]
"""Where an event entered: ``import`` and ``resync`` are bulk exports, to which the cap applies."""

BULK_ORIGINS: frozenset[str] = frozenset({"import", "resync"})


class Company(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: NonEmpty | None = None
    name: str | None = Field(default=None, max_length=255)
    type: str | None = Field(default=None, max_length=255)


def _non_finite(value: Any, path: str) -> str | None:
    """The path of the first NaN or infinite float inside ``value``, or None."""
    stack = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return where
        if isinstance(item, dict):
            stack.extend((v, f"{where}.{k}") for k, v in item.items())
        elif isinstance(item, list):
            stack.extend((v, f"{where}[{i}]") for i, v in enumerate(item))
    return None


_PLAIN: frozenset[type] = frozenset({str, int, bool, type(None)})
"""Types that cannot hold a NaN or an Infinity: most properties are these."""


def _finite_numbers(value: dict[str, Any]) -> dict[str, Any]:
    # The JSON parser accepts NaN and Infinity (not JSON); stored, they would silently
    # become null. Refused instead, naming where they are. The walk, which builds a path
    # for every value, runs only when a value is a float, list or object (every event
    # pays for this check, at the webhook and again in the collector).
    if all(type(item) in _PLAIN for item in value.values()):
        return value
    where = _non_finite(value, "properties")
    if where:
        raise ValueError(f"{where}: NaN and Infinity are not JSON numbers")
    return value


def _aware_time(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("must carry a timezone (e.g. 2026-11-22T10:00:00Z)")
    return value


Properties = Annotated[dict[str, Any], AfterValidator(_finite_numbers)]
"""``contact.properties``: any JSON object, without NaN or Infinity."""
AwareTime = Annotated[datetime, AfterValidator(_aware_time)]
"""A time with its timezone. The rules of a field live in its type (not in a model's
``field_validator``), so that ``shared/wire_events.py`` can mirror the models."""


class Contact(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: NonEmpty
    email: str | None = Field(default=None, max_length=320)
    first_name: str | None = Field(default=None, max_length=255)
    last_name: str | None = Field(default=None, max_length=255)
    phone: str | None = Field(default=None, max_length=64)
    job_title: str | None = Field(default=None, max_length=255)
    role: str | None = Field(default=None, max_length=255)
    company: Company | None = None
    marketing: Literal["subscribed", "unsubscribed", "unknown"] = "unknown"
    properties: Properties = Field(default_factory=dict)


class ContactEvent(BaseModel):
    """One change of one contact, as the CRM publishes it."""

    model_config = ConfigDict(extra="forbid")

    event_id: NonEmpty
    account_id: Annotated[
        str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    ]
    type: Literal["contact.upserted", "contact.deleted"]
    occurred_at: AwareTime
    contact: Contact

    @property
    def occurred_at_epoch(self) -> float:
        """occurred_at as float seconds since the epoch: the ordering key of last-write-wins."""
        return self.occurred_at.astimezone(UTC).timestamp()


class EventBatch(BaseModel):
    """The webhook's body: ``{"events": [...]}``."""

    model_config = ConfigDict(extra="forbid")

    events: list[ContactEvent] = Field(max_length=1000)


class MirroredContact(BaseModel):
    """The newest known state of one contact, as the collector stores it in Redis
    (key :func:`shared.constants.contact`). The collector writes it from the validated dict
    (:func:`shared.wire_events.mirror_json`); :meth:`from_event` is the same from a model."""

    event_id: str
    occurred_at: datetime
    deleted: bool
    origin: Origin
    contact: Contact

    @classmethod
    def from_event(cls, event: ContactEvent, origin: Origin) -> MirroredContact:
        return cls(
            event_id=event.event_id,
            occurred_at=event.occurred_at,
            deleted=event.type == "contact.deleted",
            origin=origin,
            contact=event.contact,
        )
