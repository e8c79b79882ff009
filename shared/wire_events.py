"""The fast path of events: validated into plain dicts, by the rules of the models in
:mod:`shared.events`, and written as JSON (the events stream).

Validating into model objects costs pydantic about twice the time of validating into
dicts (objects are built, then serialised again); on the webhook, which only checks events
and stores them, that was half of the CPU (docs/PERFORMANCE.md, "Ingest"). The collector
validates again only the entries not stamped with :data:`EVENT_RULES` (those of an older
release, or written by hand); stamped ones it only parses (:func:`trusted_event`).

The models stay the one definition of the contract: :func:`typed_dict_of` mirrors a model
field by field -- type, constraints, validators (kept in the field types for this reason),
required or not -- into a ``TypedDict`` with the same ``extra`` rule, so both accept and
refuse the same bodies, with the same error locations (tests/shared/test_wire_events.py
holds them to it).

The JSON written is what the models' ``model_dump_json()`` would give, except that optional
fields the CRM left out stay out (a model reading it fills in their defaults).
"""

from __future__ import annotations

import hashlib
import types
from datetime import datetime
from functools import cache
from typing import Annotated, Any, NotRequired, Union, get_args, get_origin

import orjson
from pydantic import BaseModel, ConfigDict, TypeAdapter
from typing_extensions import TypedDict

from shared.events import CONSENT_TIMES, ContactEvent, EventBatch

_typed_dict: Any = TypedDict
"""typing_extensions' (pydantic needs it on Python < 3.12), called with a computed name."""

WireEvent = dict[str, Any]
"""One event as a dict, validated by :data:`WIRE_BATCH`."""


def _mirror(annotation: Any) -> Any:
    """``annotation`` with every model in it replaced by its TypedDict mirror."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return typed_dict_of(annotation)
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        return Union[tuple(_mirror(arg) for arg in get_args(annotation))]  # noqa: UP007
    if origin is list:
        return list[_mirror(get_args(annotation)[0])]  # type: ignore[misc]
    return annotation


@cache
def typed_dict_of(model: type[BaseModel]) -> Any:
    """A TypedDict that validates like ``model``: same fields, types, constraints and
    validators; fields with a default are NotRequired."""
    fields: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        kind = _mirror(info.annotation)
        if info.metadata:
            kind = Annotated[kind, *info.metadata]
        fields[name] = kind if info.is_required() else NotRequired[kind]
    mirror: Any = _typed_dict(f"{model.__name__}Dict", fields)
    extra = model.model_config.get("extra")
    mirror.__pydantic_config__ = ConfigDict(extra=extra) if extra else ConfigDict()
    return mirror


RULES_REVISION = 2
"""Bump when a rule of the event models changes that their JSON schema does not show (a
validator's body): entries stamped with an older :data:`EVENT_RULES` are validated again."""
EVENT_RULES: str = hashlib.sha1(orjson.dumps(
    [RULES_REVISION, ContactEvent.model_json_schema()], option=orjson.OPT_SORT_KEYS)
).hexdigest()[:12]
"""The rules an event was validated by at the edge, stamped on its stream entry by the
producers: the collector does not validate again an entry stamped with its own rules (an
event is validated once, at the edge), and validates any other (an older release's, or one
written by hand)."""

WIRE_BATCH: TypeAdapter[Any] = TypeAdapter(typed_dict_of(EventBatch))
"""Validates a webhook body ``{"events": [...]}`` like :class:`EventBatch`, into dicts."""
WIRE_EVENT: TypeAdapter[Any] = TypeAdapter(typed_dict_of(ContactEvent))
"""Validates one event's JSON like :class:`ContactEvent`, into a dict."""


def wire_events(body: bytes) -> list[WireEvent]:
    """The events of a body; raises pydantic's ``ValidationError`` as
    ``EventBatch.model_validate_json`` would."""
    events: list[WireEvent] = WIRE_BATCH.validate_json(body)["events"]
    return events


def wire_event(raw: str | bytes) -> WireEvent:
    """One event (a stream entry's ``event``); raises pydantic's ``ValidationError`` as
    ``ContactEvent.model_validate_json`` would."""
    event: WireEvent = WIRE_EVENT.validate_json(raw)
    return event


def trusted_event(raw: str | bytes) -> WireEvent:
    """One event of an entry stamped with :data:`EVENT_RULES`: its JSON is what the edge
    wrote of the validated dict, so it is only parsed (``occurred_at`` back into an aware
    time). Raises ``ValueError`` or ``KeyError`` if it is not such JSON after all."""
    event: WireEvent = orjson.loads(raw)
    moment = datetime.fromisoformat(event["occurred_at"])
    if moment.tzinfo is None or not isinstance(event["contact"]["id"], str):
        raise ValueError("not an event validated at the edge")
    event["occurred_at"] = moment
    contact = event["contact"]
    for name in CONSENT_TIMES:
        if isinstance(contact.get(name), str):
            contact[name] = datetime.fromisoformat(contact[name])
    return event


def occurred_at_epoch(event: WireEvent) -> float:
    """``ContactEvent.occurred_at_epoch`` of a validated event (its time is aware)."""
    return float(event["occurred_at"].timestamp())


def wire_json(event: WireEvent) -> bytes:
    """The JSON of a validated event (or any dict of its values), as pydantic writes it
    (UTC times as Z), by orjson, 4x faster than pydantic-core.

    orjson writes every validated event: the models refuse what it cannot write (integers
    beyond 64 bits in ``contact.properties``), and pydantic's JSON parser what else it
    refuses (lone surrogates, nesting deeper than orjson's limit)."""
    return orjson.dumps(event, option=orjson.OPT_UTC_Z)
