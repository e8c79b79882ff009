"""Turning bytes or Python objects into :class:`ContactEvent` s, with errors that name the
event (index, event_id) and the field, never the value.

Used by the webhook (raw JSON bytes), ``publish()`` (dicts) and the importer (rows).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any

import annotated_types
import orjson
from pydantic import ValidationError

from shared.events import (
    ERASED,
    ERASED_CARRIES_ID,
    FAR_AHEAD,
    IN_THE_FUTURE,
    MAX_FUTURE_SKEW,
    ContactEvent,
    EventBatch,
    erased_extra_fields,
    future_consent,
)
from shared.wire_events import WireEvent, wire_events

MAX_EVENTS: int = next(
    rule.max_length for rule in EventBatch.model_fields["events"].metadata
    if isinstance(rule, annotated_types.MaxLen)
)
"""At most this many events per webhook request (docs/ARCHITECTURE.md §1): the model's limit."""
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
        events = wire_events(body)
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
    refused = _far_ahead(events) + _erased_with_data(events) + duplicate_keys(body)
    if refused:
        raise SchemaError(refused)
    return events


def _far_ahead(events: Sequence[WireEvent]) -> list[FieldError]:
    """The model's clock rule (:meth:`ContactEvent._not_far_ahead`), which the wire mirror
    leaves out, on validated dicts: one comparison per event."""
    latest = datetime.now(UTC) + MAX_FUTURE_SKEW
    found = [FieldError(index, "occurred_at", FAR_AHEAD, event["event_id"])
             for index, event in enumerate(events) if event["occurred_at"] > latest]
    return found + [FieldError(index, f"contact.{name}", IN_THE_FUTURE, event["event_id"])
                    for index, event in enumerate(events)
                    for name in future_consent(event["contact"])]


def _erased_with_data(events: Sequence[WireEvent]) -> list[FieldError]:
    """The model's erasure rule (only the id), on validated dicts."""
    return [FieldError(index, f"contact.{name}", ERASED_CARRIES_ID, event["event_id"])
            for index, event in enumerate(events) if event["type"] == ERASED
            for name in erased_extra_fields(event["contact"])]


_ESCAPED_COLONS = (b"\\u003a", b"\\u003A")


def _may_repeat_a_key(body: bytes) -> bool:
    """False when no object of ``body`` (JSON that pydantic accepted) holds a key twice.

    Fast (about 1.2 ms for a 1,000-event body, against 2.4 ms for the standard parser with an
    ``object_pairs_hook``): every ``:`` of JSON outside a string separates a key from its
    value, and orjson keeps one value per key and writes strings with their ``:`` unescaped.
    So, unless a string writes ``:`` as ``\\u003a``, the body and orjson's rewrite of it
    have as many ``:`` exactly when no key was dropped; a repeated key loses at least its
    own. Anything orjson cannot read (a lone surrogate escape) counts as a maybe."""
    if any(escaped in body for escaped in _ESCAPED_COLONS):
        return True
    try:
        rewritten = orjson.dumps(orjson.loads(body))
    except (orjson.JSONDecodeError, orjson.JSONEncodeError):
        return True
    return body.count(b":") != rewritten.count(b":")


def duplicate_keys(body: bytes) -> list[FieldError]:
    """An error per key that an object of ``body`` (valid JSON) holds more than once, at any
    depth: JSON parsers disagree on which value wins (pydantic and orjson take the last),
    so the CRM and the service could read different events. Empty for most bodies, after a
    fast check; only a body that may have one is parsed again to say where."""
    if not _may_repeat_a_key(body):
        return []
    try:
        raw = json.loads(body, object_pairs_hook=_Pairs)
    except (ValueError, RecursionError):
        return []  # pydantic read it; what the standard parser cannot is not a duplicate
    found: list[FieldError] = []
    _walk(raw, (), found)
    events = dict(raw).get("events") if isinstance(raw, _Pairs) else None
    ids = _event_ids([dict(item) if isinstance(item, _Pairs) else item
                      for item in events] if isinstance(events, list) else None)
    return [replace(error, event_id=ids.get(error.index)) if error.index is not None else error
            for error in found]


class _Pairs(list[tuple[str, Any]]):
    """A JSON object as its key/value pairs, in order, repeated keys kept."""


def _walk(value: object, where: tuple[int | str, ...], found: list[FieldError]) -> None:
    if isinstance(value, _Pairs):
        seen: set[str] = set()
        for key, item in value:
            if key in seen and len(found) < MAX_LISTED_ERRORS:
                found.append(_duplicate_error((*where, key)))
            seen.add(key)
            _walk(item, (*where, key), found)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _walk(item, (*where, index), found)


def _duplicate_error(loc: tuple[int | str, ...]) -> FieldError:
    message = (f"duplicate key {str(loc[-1])!r}: an object holds it more than once; "
               "send each key once")
    if len(loc) >= 2 and loc[0] == "events" and isinstance(loc[1], int):
        return FieldError(loc[1], field_path(loc[2:]) or "(event)", message)
    return FieldError(None, field_path(loc) or "(body)", message)


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
