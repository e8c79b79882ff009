"""Whatever a client sends, the webhook answers 2xx/4xx with JSON, never a 5xx; and its
OpenAPI document is a valid one that requests can be checked against."""

from __future__ import annotations

import json
from collections.abc import Iterator

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate

from tests.producers.helpers import Webhook, event, running_webhook

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@pytest.fixture(scope="module")
def webhook(redis_server) -> Iterator[Webhook]:  # type: ignore[no-untyped-def]
    with running_webhook(redis_server.url) as server:
        yield server


def _mutated_event(data: st.DataObject) -> dict[str, object]:
    item: dict[str, object] = event(1)
    path = data.draw(st.sampled_from([(), ("contact",), ("contact", "company"),
                                      ("contact", "properties")]))
    target: dict[str, object] = item
    for key in path:
        target = target[key]  # type: ignore[assignment]
    key = data.draw(st.sampled_from([*target.keys(), "unexpected"]))
    target[key] = data.draw(JSON_VALUES)
    return item


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_events_are_accepted_or_refused_with_a_4xx_never_a_5xx(webhook: Webhook,
                                                                       data: st.DataObject) -> None:
    answer = webhook.post(json.dumps({"events": [_mutated_event(data)]}).encode())
    assert answer.status_code in (202, 422), answer.text
    body = answer.json()
    if answer.status_code == 422:
        assert body["errors"] and all(e["index"] == 0 for e in body["errors"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=300) | JSON_VALUES.map(lambda value: json.dumps(value).encode()))
def test_random_bodies_get_a_json_4xx_never_a_5xx(webhook: Webhook, body: bytes) -> None:
    answer = webhook.post(body)
    assert answer.status_code in (202, 400, 422), answer.text
    assert "detail" in answer.json() or answer.status_code == 202


def test_the_openapi_document_is_valid_and_describes_a_real_request(webhook: Webhook) -> None:
    document = webhook.http.get("/openapi.json").json()
    validate(document)
    operation = document["paths"]["/v1/contact-events"]["post"]
    schema = {**operation["requestBody"]["content"]["application/json"]["schema"],
              "components": document["components"]}
    jsonschema.validate({"events": [event(1), event(2, email=None)]}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"events": [{"event_id": "e-1"}]}, schema)
