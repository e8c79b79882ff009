"""The fast path (events validated into dicts) holds to the models of shared/events.py: the
same bodies accepted, the same refused with the same errors, and the JSON it writes (the
stream's events, the compact contact mirror) read back as the very objects the models
would give."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from producers.validation import SchemaError, parse_batch
from shared.events import (
    FAR_AHEAD,
    IN_THE_FUTURE,
    INT64_MAX,
    INT64_MIN,
    ContactEvent,
    EventBatch,
    MirroredContact,
    far_ahead,
    future_consent,
)
from shared.state.contact_mirror import decode_mirror, encode_mirror
from shared.wire_events import (
    occurred_at_epoch,
    trusted_event,
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
    if model_kind == "refused":
        # The clock rule (more than a day ahead) is the model's only one the mirror leaves
        # to the webhook (producers/validation.py): an occurred_at drawn as a big epoch.
        by_model = [error for error in by_model if error[1] not in (FAR_AHEAD, IN_THE_FUTURE)]
        if not by_model:
            assert wire_kind == "accepted"
            assert any(far_ahead(event["occurred_at"]) or future_consent(event["contact"])
                       for event in by_wire)
            return
    assert wire_kind == model_kind
    if model_kind == "refused":
        assert by_wire == by_model
    else:
        assert [ContactEvent.model_validate_json(wire_json(e)) for e in by_wire] == by_model


def test_a_time_far_ahead_given_as_an_epoch_is_refused_by_the_webhook_as_by_the_model() -> None:
    """The one rule the fast path leaves to the webhook (the hypothesis case above draws it
    only now and then: an ``occurred_at`` of a big integer, read as epoch seconds)."""
    event = valid_event(1)
    event["occurred_at"] = 5_000_000_000  # the year 2128
    body = dumps({"events": [event]})
    kind, errors = _outcome(lambda b: EventBatch.model_validate_json(b).events, body)
    assert (kind, errors) == ("refused", [(("events", 0, "occurred_at"), FAR_AHEAD)])
    assert len(wire_events(body)) == 1
    with pytest.raises(SchemaError) as refused:
        parse_batch(body)
    assert [(e.index, e.field, e.message) for e in refused.value.errors] == [
        (0, "occurred_at", FAR_AHEAD)]


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
    assert trusted_event(wire_json(by_wire)) == by_wire  # a stamped entry reads as validated
    assert read_back(by_wire, origin) == kept_of(MirroredContact.from_event(by_model, origin))


def read_back(event: dict[str, Any], origin: Any) -> MirroredContact:
    """The compact mirror the collector stores of ``event``, read back."""
    stored = encode_mirror(occurred_at_epoch(event), bulk=origin == "import",
                           deleted=event["type"] == "contact.deleted", origin=origin,
                           contact=event["contact"], email_valid=False)
    return decode_mirror(event["contact"]["id"], stored)


def kept_of(mirrored: MirroredContact) -> MirroredContact:
    """What the compact form keeps of a mirror: no event id, no company id (a company with
    neither name nor type is none)."""
    company = mirrored.contact.company
    if company is not None:
        company = (company.model_copy(update={"id": None})
                   if company.name is not None or company.type is not None else None)
    return mirrored.model_copy(update={
        "event_id": "", "contact": mirrored.contact.model_copy(update={"company": company})})


def test_a_full_events_compact_mirror_reads_back_as_the_models_mirror() -> None:
    body = orjson.dumps(valid_event(3) | {"type": "contact.deleted"})
    event = ContactEvent.model_validate_json(body)
    assert read_back(wire_event(body), "publish") == kept_of(
        MirroredContact.from_event(event, "publish"))


def test_the_stream_gets_the_json_the_model_writes_for_a_full_event() -> None:
    body = orjson.dumps({"events": [valid_event(1)]})
    [event] = EventBatch.model_validate_json(body).events
    assert wire_json(wire_events(body)[0]) == event.model_dump_json().encode()


def test_times_numbers_and_stripped_ids_come_out_as_the_model_writes_them() -> None:
    item = valid_event(2)
    item["occurred_at"] = "2026-11-22T10:00:00.1234+05:30"
    item["contact"]["id"] = "  C-2 "
    item["contact"]["properties"] = {"big": INT64_MAX, "small": INT64_MIN, "tiny": 1e-300,
                                     "many": [1.5, True, None]}
    body = json.dumps({"events": [item]}).encode()
    [event] = EventBatch.model_validate_json(body).events
    stream_json = wire_json(wire_events(body)[0])
    written = orjson.loads(stream_json)
    assert written["occurred_at"] == "2026-11-22T10:00:00.123400+05:30"
    assert written["contact"]["id"] == "C-2"
    assert written["contact"]["properties"] == {"big": 2**63 - 1, "small": -(2**63),
                                                "tiny": 1e-300, "many": [1.5, True, None]}
    assert ContactEvent.model_validate_json(stream_json) == event



def _with_properties(properties: Any) -> bytes:
    item = valid_event(4)
    item["contact"]["properties"] = properties
    return json.dumps({"events": [item]}).encode()  # json: orjson cannot write big ints


def test_integers_beyond_64_bits_are_refused_by_both_naming_where_they_are() -> None:
    body = _with_properties({"ok": INT64_MAX, "big": INT64_MAX + 1, "low": INT64_MIN - 1,
                             "deep": {"list": [1, {"huge": 2**70}]}, "region": "North"})
    by_model = _outcome(lambda b: EventBatch.model_validate_json(b).events, body)
    assert by_model == _outcome(wire_events, body)
    kind, errors = by_model
    assert kind == "refused"
    assert [loc for loc, _ in errors] == [
        ("events", 0, "contact", "properties", "big"),
        ("events", 0, "contact", "properties", "low"),
        ("events", 0, "contact", "properties", "deep", "list", 1, "huge"),
    ]
    assert all("64-bit" in message for _, message in errors)


def test_nan_is_named_inside_the_properties_like_a_big_int() -> None:
    body = _with_properties({"score": 1}).replace(b'"score": 1', b'"score": [1, NaN]')
    by_model = _outcome(lambda b: EventBatch.model_validate_json(b).events, body)
    assert by_model == _outcome(wire_events, body) == ("refused", [
        (("events", 0, "contact", "properties", "score", 1),
         "Value error, NaN and Infinity are not JSON numbers")])


PROPERTY_VALUES: st.SearchStrategy[Any] = st.recursive(
    st.integers(INT64_MIN - 3, INT64_MIN + 3) | st.integers(INT64_MAX - 3, INT64_MAX + 3)
    | st.integers() | st.booleans() | st.none() | st.text(max_size=5) | st.floats(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                  max_size=3),
    max_leaves=8,
)


@settings(max_examples=500, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(properties=st.dictionaries(st.text(max_size=6), PROPERTY_VALUES, max_size=4))
def test_numbers_at_the_edges_of_64_bits_are_judged_alike_and_written_by_orjson(
    properties: dict[str, Any],
) -> None:
    body = _with_properties(properties)
    model_kind, by_model = _outcome(lambda b: EventBatch.model_validate_json(b).events, body)
    wire_kind, by_wire = _outcome(wire_events, body)
    assert wire_kind == model_kind
    if model_kind == "refused":
        assert by_wire == by_model
    else:
        assert [ContactEvent.model_validate_json(wire_json(e)) for e in by_wire] == by_model


def test_the_deepest_properties_the_parser_accepts_are_written_by_orjson() -> None:
    # wire_json has no fallback: orjson must write whatever the parser lets through.
    depth = 1
    while True:
        try:
            events = wire_events(_with_properties({"deep": _nested(depth + 1)}))
        except ValidationError:
            break
        depth += 1
    events = wire_events(_with_properties({"deep": _nested(depth)}))
    assert orjson.loads(wire_json(events[0]))["contact"]["properties"]["deep"] == _nested(depth)


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value
