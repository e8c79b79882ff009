"""The fast path (events validated into dicts) holds to the models of shared/events.py: the
same bodies accepted, the same refused with the same errors, and the JSON it writes (the
stream's events, the contact mirror) read back by the models as the very objects the models
would give."""

from __future__ import annotations

import json
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.events import ContactEvent, EventBatch, MirroredContact
from shared.wire_events import (
    mirror_json,
    occurred_at_epoch,
    wire_event,
    wire_events,
    wire_json,
)
from tests.security.fuzz_cases import (
    Case,
    dumps,
    event_batches,
    mutated_event,
    raw_bodies,
    valid_event,
)


def _outcome(parse: Any, body: bytes) -> tuple[str, Any]:
    try:
        return "accepted", parse(body)
    except ValidationError as error:
        return "refused", [(e["loc"], e["msg"]) for e in error.errors(include_url=False)]


@settings(max_examples=1000, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(case=st.one_of(event_batches(), raw_bodies()))
def test_the_fast_path_accepts_and_refuses_exactly_what_the_models_do(case: Case) -> None:
    model_kind, by_model = _outcome(lambda b: EventBatch.model_validate_json(b).events,
                                    case.body)
    wire_kind, by_wire = _outcome(wire_events, case.body)
    assert wire_kind == model_kind
    if model_kind == "refused":
        assert by_wire == by_model
    else:
        assert [ContactEvent.model_validate_json(wire_json(e)) for e in by_wire] == by_model


@settings(max_examples=500, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(drawn=mutated_event(7), origin=st.sampled_from(["webhook", "import"]))
def test_one_entry_is_read_and_mirrored_as_the_models_do(
    drawn: tuple[dict[str, Any], tuple[str, ...]], origin: Any,
) -> None:
    body = dumps(drawn[0])
    model_kind, by_model = _outcome(ContactEvent.model_validate_json, body)
    wire_kind, by_wire = _outcome(wire_event, body)
    assert wire_kind == model_kind
    if model_kind == "refused":
        assert by_wire == by_model
        return
    assert occurred_at_epoch(by_wire) == by_model.occurred_at_epoch
    assert MirroredContact.model_validate_json(mirror_json(by_wire, origin)) == (
        MirroredContact.from_event(by_model, origin))


def test_a_full_events_mirror_is_the_json_the_model_writes() -> None:
    body = orjson.dumps(valid_event(3) | {"type": "contact.deleted"})
    event = ContactEvent.model_validate_json(body)
    assert mirror_json(wire_event(body), "publish") == (
        MirroredContact.from_event(event, "publish").model_dump_json().encode())


def test_the_stream_gets_the_json_the_model_writes_for_a_full_event() -> None:
    body = orjson.dumps({"events": [valid_event(1)]})
    [event] = EventBatch.model_validate_json(body).events
    assert wire_json(wire_events(body)[0]) == event.model_dump_json().encode()


def test_times_numbers_and_stripped_ids_come_out_as_the_model_writes_them() -> None:
    item = valid_event(2)
    item["occurred_at"] = "2026-11-22T10:00:00.1234+05:30"
    item["contact"]["id"] = "  C-2 "
    item["contact"]["properties"] = {"big": 2**70, "tiny": 1e-300, "many": [1.5, True, None]}
    body = json.dumps({"events": [item]}).encode()  # 2**70: beyond orjson's 64-bit ints
    [event] = EventBatch.model_validate_json(body).events
    stream_json = wire_json(wire_events(body)[0])
    written = orjson.loads(stream_json)
    assert written["occurred_at"] == "2026-11-22T10:00:00.123400+05:30"
    assert written["contact"]["id"] == "C-2"
    assert written["contact"]["properties"] == {"big": 2**70, "tiny": 1e-300,
                                                "many": [1.5, True, None]}
    assert ContactEvent.model_validate_json(stream_json) == event

