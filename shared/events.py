"""The CRM's contact events (the webhook's contract) and the mirrored state of a contact.

An event is validated once, at the edge (webhook, import, publish()); everything downstream
reads these models. An invalid *email* is not a schema error: the contact is kept and
excluded at sync time, counted (docs/ARCHITECTURE.md §1).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
Origin = Literal["webhook", "import", "publish", "resync"]
"""Where an event entered: ``import`` and ``resync`` are bulk exports, to which the cap applies."""

BULK_ORIGINS: frozenset[str] = frozenset({"import", "resync"})


class Company(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: NonEmpty | None = None
    name: str | None = Field(default=None, max_length=255)
    type: str | None = Field(default=None, max_length=255)


INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
"""The integers a property may hold: the signed 64-bit range, which the sync's JSON writer
(orjson) and Klaviyo's readers are sure to take. Beyond it, a CRM sends a string."""
MAX_PROPERTY_ERRORS = 10
"""At most this many refused values are listed per contact (a body can hold 100,000s)."""
BIG_INT = "integer beyond the signed 64-bit range (-2**63 .. 2**63-1); send it as a string"
NOT_FINITE = "NaN and Infinity are not JSON numbers"

_FLAT: frozenset[type] = frozenset({str, bool, type(None)})
"""Types that are always sendable: most properties are these, or a 64-bit int."""


def _sendable(item: Any) -> bool:
    kind = type(item)
    return kind in _FLAT or (kind is int and INT64_MIN <= item <= INT64_MAX)


def _unsendable(value: dict[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
    """Where (a path inside ``value``) and why each value the sync could not send is, in
    document order; at most :data:`MAX_PROPERTY_ERRORS`."""
    found: list[tuple[tuple[str | int, ...], str]] = []
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(value, ())]
    while stack and len(found) < MAX_PROPERTY_ERRORS:
        item, where = stack.pop()
        kind = type(item)
        if kind is int and not INT64_MIN <= item <= INT64_MAX:
            found.append((where, BIG_INT))
        elif kind is float and not math.isfinite(item):
            found.append((where, NOT_FINITE))
        elif kind is dict:
            stack.extend((v, (*where, k)) for k, v in reversed(item.items()))
        elif kind is list:
            stack.extend((v, (*where, i)) for i, v in reversed(list(enumerate(item))))
    return found


def _sendable_properties(value: dict[str, Any]) -> dict[str, Any]:
    # Refused here, naming where they are, rather than lost later: NaN and Infinity (the
    # JSON parser accepts them, not JSON) would be stored as null, and an integer beyond 64
    # bits cannot be written by the sync at all. The walk, which builds a path for every
    # value, runs only when a value is a float, list, object or big int (every event pays
    # for this check, at the webhook and again in the collector).
    if all(_sendable(item) for item in value.values()):
        return value
    found = _unsendable(value)
    if found:
        # Raised as a ValidationError, its errors are located inside the properties
        # (``contact.properties.big``), in the models and the fast path alike.
        raise ValidationError.from_exception_data("Properties", [
            {"type": "value_error", "loc": where, "input": None, "ctx": {"error": message}}
            for where, message in found])
    return value


MAX_FUTURE_SKEW = timedelta(days=1)
"""How far ahead of this host's clock an ``occurred_at`` may be: the CRM's clock may run a
little fast, but a time far ahead (year 9999) would win last-write-wins against every later
change of the contact, for good."""
FAR_AHEAD = (f"Value error, more than {MAX_FUTURE_SKEW.days} day ahead of the server's clock; "
             "send the time the change happened (with its timezone)")
"""The refusal of such an ``occurred_at``, by the model and the webhook's fast path alike."""
CONSENT_SKEW = timedelta(minutes=5)
"""How far ahead of this host's clock a consent time may be (clocks drift a little); the
sync never sends Klaviyo a ``consented_at`` later than its own now."""
CONSENT_TIMES = ("marketing_consented_at", "sms_consented_at")
IN_THE_FUTURE = ("Value error, in the future; send the time the contact gave consent "
                 "(with its timezone)")
"""The refusal of a consent time ahead of the clock, by the model and the fast path alike."""


def future_consent(contact: Any) -> list[str]:
    """The consent-time fields of a contact (a model or a validated dict) that are ahead of
    now by more than :data:`CONSENT_SKEW`."""
    latest = datetime.now(UTC) + CONSENT_SKEW
    get = contact.get if isinstance(contact, dict) else lambda name: getattr(contact, name)
    found: list[str] = []
    for name in CONSENT_TIMES:
        value = get(name)
        if isinstance(value, datetime) and value > latest:
            found.append(name)
    return found


def far_ahead(moment: datetime) -> bool:
    """``moment`` (aware) is more than :data:`MAX_FUTURE_SKEW` ahead of now."""
    return moment - datetime.now(UTC) > MAX_FUTURE_SKEW


def _aware_time(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("must carry a timezone (e.g. 2026-11-22T10:00:00Z)")
    return value


Properties = Annotated[dict[str, Any], AfterValidator(_sendable_properties)]
"""``contact.properties``: any JSON object, without NaN, Infinity or an integer beyond the
signed 64-bit range (at any depth)."""
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
    marketing_consented_at: AwareTime | None = Field(default=None, description=(
        "When the contact gave email-marketing consent (ISO 8601 with timezone, not in the "
        "future). With marketing 'subscribed' the contact is subscribed in Klaviyo as a "
        "historical import at this time, unless Klaviyo holds a newer unsubscribe or "
        "suppression; without it nobody is subscribed."))
    sms_marketing: Literal["subscribed", "unsubscribed", "unknown"] = Field(
        default="unknown", description=(
            "SMS-marketing consent: 'subscribed' (with sms_consented_at and a sendable phone) "
            "subscribes the phone, 'unsubscribed' unsubscribes it."))
    sms_consented_at: AwareTime | None = Field(default=None, description=(
        "When the contact gave SMS-marketing consent (ISO 8601 with timezone, not in the "
        "future)."))


ERASED = "contact.erased"
"""The event type of an erasure (GDPR art. 17): the contact is forgotten, here and in
Klaviyo (:mod:`workers.actors.erase`)."""
ERASED_CARRIES_ID = ("Value error, an erasure (contact.erased) carries the contact's id only; "
                     "leave this field out")
"""The refusal of any other contact field in an erasure: the person asked to be forgotten,
so nothing of them but the id is taken in (by the model and the webhook's fast path)."""


def erased_extra_fields(contact: dict[str, Any]) -> list[str]:
    """The fields of an erasure's ``contact`` (a dict of what the CRM sent) besides ``id``."""
    return [name for name in contact if name != "id"]


class ContactEvent(BaseModel):
    """One change of one contact, as the CRM publishes it."""

    model_config = ConfigDict(extra="forbid")

    event_id: NonEmpty
    account_id: Annotated[
        str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    ]
    type: Literal["contact.upserted", "contact.deleted", "contact.erased"]
    occurred_at: AwareTime
    contact: Contact

    @model_validator(mode="after")
    def _not_far_ahead(self) -> ContactEvent:
        """``occurred_at`` at most :data:`MAX_FUTURE_SKEW` ahead: a rule of where events enter
        (this model: ``publish()``, the importer; the webhook checks its validated dicts in
        :func:`producers.validation.parse_batch`). Not in the field's type, so the wire
        mirror the collector reads stored events with never judges them by its clock."""
        if far_ahead(self.occurred_at):
            raise ValidationError.from_exception_data("ContactEvent", [
                {"type": "value_error", "loc": ("occurred_at",), "input": None,
                 "ctx": {"error": FAR_AHEAD.removeprefix("Value error, ")}}])
        if self.type == ERASED:
            extra = erased_extra_fields(self.contact.model_dump(exclude_unset=True))
            if extra:
                raise ValidationError.from_exception_data("ContactEvent", [
                    {"type": "value_error", "loc": ("contact", name), "input": None,
                     "ctx": {"error": ERASED_CARRIES_ID.removeprefix("Value error, ")}}
                    for name in extra])
        ahead = future_consent(self.contact)
        if ahead:
            raise ValidationError.from_exception_data("ContactEvent", [
                {"type": "value_error", "loc": ("contact", name), "input": None,
                 "ctx": {"error": IN_THE_FUTURE.removeprefix("Value error, ")}}
                for name in ahead])
        return self

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
    (compactly: :mod:`shared.state.contact_mirror`); :meth:`from_event` is the same from a
    model."""

    event_id: str = ""
    """Of the event that set this state; not kept by the compact stored form (empty)."""
    occurred_at: datetime
    deleted: bool
    origin: Origin
    contact: Contact
    erased: bool = False
    """Erased (``contact.erased``): the mirror holds the id and the time only, kept so that
    a change older than the erasure is refused; ``deleted`` is true as well."""

    @classmethod
    def from_event(cls, event: ContactEvent, origin: Origin) -> MirroredContact:
        return cls(
            event_id=event.event_id,
            occurred_at=event.occurred_at,
            deleted=event.type != "contact.upserted",
            origin=origin,
            contact=event.contact,
            erased=event.type == ERASED,
        )
