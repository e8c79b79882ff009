"""Turning bytes or Python objects into :class:`ContactEvent` s, with errors that name the
event (index, event_id) and the field, never the value.

Used by the webhook (raw JSON bytes), ``publish()`` (dicts) and the importer (rows).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import annotated_types
import orjson
from pydantic import ValidationError

from shared.events import ContactEvent, EventBatch
from shared.wire_events import WireEvent, wire_events

MAX_EVENTS: int = next(
    rule.max_length for rule in EventBatch.model_fields["events"].metadata
    if isinstance(rule, annotated_types.MaxLen)
)
"""At most this many events per webhook request (DESIGN.md section 3): the model's limit."""
MAX_LISTED_ERRORS = 1000
"""A refusal lists at most this many field errors (a huge bad body stays a small answer)."""


@dataclass(frozen=True)
class FieldError:
    """One schema error: which event (``index`` in the request, its ``event_id`` when
    readable), which field (dotted path, e.g. ``contact.company.id``) and what is wrong."""

    index: int | None
    field: str
    message: str
    event_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None or k == "index"}

    def __str__(self) -> str:
        where = "request" if self.index is None else f"event {self.index}"
        if self.event_id:
            where += f" ({self.event_id})"
        return f"{where}: {self.field}: {self.message}"


class NotJson(ValueError):
    """The body is not JSON (or not UTF-8)."""


class TooManyEvents(ValueError):
    """More than :data:`MAX_EVENTS` events in one request."""


class SchemaError(ValueError):
    """Events that do not fit the contract; ``errors`` lists each field error."""

    def __init__(self, errors: Sequence[FieldError], total: int | None = None) -> None:
        self.errors = list(errors)[:MAX_LISTED_ERRORS]
        self.total = len(errors) if total is None else total
        shown = "; ".join(str(error) for error in self.errors[:5])
        more = f" (and {self.total - 5} more)" if self.total > 5 else ""
        super().__init__(f"{self.total} schema error(s): {shown}{more}")


def field_path(loc: Iterable[int | str]) -> str:
    """``("contact", "company", "id")`` -> ``"contact.company.id"``; list positions in
    brackets (``properties.tags[2]``)."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def _event_ids(raw_events: object) -> dict[int, str]:
    if not isinstance(raw_events, list):
        return {}
    return {
        i: item["event_id"]
        for i, item in enumerate(raw_events)
        if isinstance(item, dict) and isinstance(item.get("event_id"), str)
        and len(item["event_id"]) <= 255
    }


def batch_errors(error: ValidationError, raw_events: object = None) -> list[FieldError]:
    """The errors of validating ``{"events": [...]}``, per event index and field."""
    ids = _event_ids(raw_events)
    found: list[FieldError] = []
    for item in error.errors(include_url=False, include_input=False, include_context=False):
        loc = tuple(item["loc"])
        if len(loc) >= 2 and loc[0] == "events" and isinstance(loc[1], int):
            index = loc[1]
            found.append(FieldError(index, field_path(loc[2:]) or "(event)", item["msg"],
                                    ids.get(index)))
        else:
            found.append(FieldError(None, field_path(loc) or "(body)", item["msg"]))
    return found


def parse_batch(body: bytes) -> list[WireEvent]:
    """The events of a webhook body ``{"events": [...]}``, validated (as dicts, see
    :mod:`shared.wire_events`).

    Raises :class:`NotJson`, :class:`TooManyEvents` or :class:`SchemaError`. The fast path
    is one pass of pydantic-core over the bytes; only a refused body is parsed again, to name
    the events by their ``event_id``.
    """
    try:
        return wire_events(body)
    except ValidationError as error:
        kinds = error.errors(include_url=False, include_input=False, include_context=False)
        invalid = next((item for item in kinds if item["type"] == "json_invalid"), None)
        if invalid is not None:
            raise NotJson(f"body is not valid UTF-8 JSON: {invalid['msg']}") from None
        if any(item["type"] == "too_long" and tuple(item["loc"]) == ("events",)
               for item in kinds):
            raise TooManyEvents(
                f"too many events: at most {MAX_EVENTS} per request; split the batch"
            ) from None
        try:
            raw = orjson.loads(body)
        except orjson.JSONDecodeError:
            raw = None
        raw_events = raw.get("events") if isinstance(raw, dict) else None
        raise SchemaError(batch_errors(error, raw_events)) from None


def validate_events(items: Iterable[ContactEvent | dict[str, Any]]) -> list[ContactEvent]:
    """Events given as models or dicts (``publish()``), all validated; :class:`SchemaError`
    lists every bad one by its index."""
    events: list[ContactEvent] = []
    errors: list[FieldError] = []
    for index, item in enumerate(items):
        if isinstance(item, ContactEvent):
            events.append(item)
            continue
        try:
            events.append(ContactEvent.model_validate(item))
        except ValidationError as error:
            event_id = item.get("event_id") if isinstance(item, dict) else None
            for detail in error.errors(include_url=False, include_input=False,
                                       include_context=False):
                errors.append(FieldError(index, field_path(detail["loc"]) or "(event)",
                                         detail["msg"],
                                         event_id if isinstance(event_id, str) else None))
    if errors:
        raise SchemaError(errors)
    return events
