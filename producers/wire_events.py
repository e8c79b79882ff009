"""The webhook's fast path: a request's events validated into plain dicts, by the rules of
the models in :mod:`shared.events`, and turned into the JSON of the events stream.

Validating into model objects costs pydantic about twice the time of validating into
dicts (objects are built, then serialised again for the stream); on the webhook, which
only checks events and stores them, that was half of each request's CPU
(docs/PERFORMANCE.md, "Ingest"). The models stay the one definition of the contract:
:func:`typed_dict_of` mirrors a model field by field -- type, constraints, validators
(kept in the field types for this reason), required or not -- into a ``TypedDict`` with the
same ``extra`` rule, so both accept and refuse the same bodies, with the same error
locations (tests/producers/test_wire_events.py holds them to it).

The stream gets the same JSON as ``ContactEvent.model_dump_json()`` would give, except that
optional fields the CRM left out stay out (the collector's ``ContactEvent`` fills them in
with their defaults when it reads the entry).
"""

from __future__ import annotations

import types
from functools import cache
from typing import Annotated, Any, NotRequired, Union, get_args, get_origin

import orjson
import pydantic_core
from pydantic import BaseModel, ConfigDict, TypeAdapter
from typing_extensions import TypedDict

from shared.events import EventBatch

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


WIRE_BATCH: TypeAdapter[Any] = TypeAdapter(typed_dict_of(EventBatch))
"""Validates a webhook body ``{"events": [...]}`` like :class:`EventBatch`, into dicts."""


def wire_events(body: bytes) -> list[WireEvent]:
    """The events of a body; raises pydantic's ``ValidationError`` as
    ``EventBatch.model_validate_json`` would."""
    events: list[WireEvent] = WIRE_BATCH.validate_json(body)["events"]
    return events


def wire_json(event: WireEvent) -> bytes:
    """The stream's JSON of one validated event, as pydantic writes it (UTC times as Z).

    orjson, 4x faster, for all but integers beyond 64 bits in ``contact.properties``,
    which it refuses and pydantic-core writes."""
    try:
        return orjson.dumps(event, option=orjson.OPT_UTC_Z)
    except orjson.JSONEncodeError:
        return pydantic_core.to_json(event)
