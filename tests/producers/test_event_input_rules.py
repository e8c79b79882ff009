"""Events the contract refuses although they parse (issue 11): an ``occurred_at`` far in the
future, which would pin a contact for good, and a JSON object holding a key twice, which
the CRM and the service could read differently. Each is refused by the field it names;
nothing of the request, call or row is stored."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st

from producers.importer import import_file
from producers.publish import PublishError, publish
from producers.validation import duplicate_keys
from shared import constants as keys
from tests.producers.helpers import Webhook, event, running_webhook

FUTURE = "more than 1 day ahead of the server's clock"


@pytest.fixture(scope="module")
def webhook(redis_server) -> Iterator[Webhook]:  # type: ignore[no-untyped-def]
    with running_webhook(redis_server.url) as server:
        yield server


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def test_an_event_more_than_a_day_ahead_is_refused_with_422_naming_occurred_at(
    webhook: Webhook, r: redis.Redis,
):
    far = event(2)
    far["occurred_at"] = "9999-12-31T23:59:59Z"
    answer = webhook.post_events([event(1), far])
    assert answer.status_code == 422
    assert answer.json()["detail"] == "1 schema error(s); nothing of this request was stored"
    [error] = answer.json()["errors"]
    assert (error["index"], error["event_id"], error["field"]) == (1, "evt-2", "occurred_at")
    assert FUTURE in error["message"]
    assert r.xlen(keys.EVENTS_STREAM) == 0


def test_an_event_a_few_hours_ahead_is_taken_a_clock_running_fast(webhook: Webhook,
                                                                  r: redis.Redis):
    soon = event(1)
    soon["occurred_at"] = _iso(datetime.now(UTC) + timedelta(hours=20))
    assert webhook.post_events([soon]).status_code == 202
    assert r.xlen(keys.EVENTS_STREAM) == 1


def test_publish_refuses_an_occurred_at_more_than_a_day_ahead(redis_url: str, r: redis.Redis):
    far = event(2)
    far["occurred_at"] = _iso(datetime.now(UTC) + timedelta(days=2))
    with pytest.raises(PublishError) as refused:
        publish([event(1), far], redis_url=redis_url)
    assert [(e.index, e.field) for e in refused.value.errors] == [(1, "occurred_at")]
    assert FUTURE in str(refused.value)
    assert r.xlen(keys.EVENTS_STREAM) == 0


def test_the_importer_refuses_a_row_more_than_a_day_ahead_by_line_and_column(
    tmp_path: Path, r: redis.Redis, test_account: str,
):
    path = tmp_path / "export.csv"
    path.write_text("id,email,occurred_at\nC-1,a@example.com,2026-11-20T09:00:00Z\n"
                    "C-2,b@example.com,9999-01-01T00:00:00Z\n")
    report = import_file(r, path, "acme")
    assert report.imported == 1
    [row] = report.refused
    assert (row.line, row.field) == (3, "occurred_at")
    assert FUTURE in row.message


@pytest.mark.parametrize(("body", "index", "event_id", "field"), [
    (b'{"events": [{"event_id": "e-1", "account_id": "acme", "account_id": "other", '
     b'"type": "contact.deleted", "occurred_at": "2026-11-22T10:00:00Z", '
     b'"contact": {"id": "C-1"}}]}', 0, "e-1", "account_id"),
    (b'{"events": [{"event_id": "e-1", "account_id": "acme", "type": "contact.upserted", '
     b'"occurred_at": "2026-11-22T10:00:00Z", "contact": {"id": "C-1", "email": '
     b'"a@example.com", "properties": {"tier": "gold", "tier": "free"}}}]}',
     0, "e-1", "contact.properties.tier"),
    (b'{"events": [{"event_id": "e-1", "account_id": "acme", "type": "contact.upserted", '
     b'"occurred_at": "2026-11-22T10:00:00Z", "contact": {"id": "C-1", "properties": '
     b'{"see:also": "a:b", "see\\u003aalso": "c"}}}]}', 0, "e-1", "contact.properties.see:also"),
    (b'{"events": [], "events": [{"event_id": "e-1", "account_id": "acme", '
     b'"type": "contact.deleted", "occurred_at": "2026-11-22T10:00:00Z", '
     b'"contact": {"id": "C-1"}}]}', None, None, "events"),
], ids=["account_id", "nested-property", "escaped-colon", "events"])
def test_a_key_given_twice_is_refused_with_422_naming_it(
    webhook: Webhook, r: redis.Redis, body: bytes, index: int | None, event_id: str | None,
    field: str,
):
    answer = webhook.post(body)
    assert answer.status_code == 422, answer.text
    [error] = answer.json()["errors"]
    assert (error["index"], error.get("event_id"), error["field"]) == (index, event_id, field)
    key = field.rsplit(".", 1)[-1]
    assert error["message"] == (f"duplicate key {key!r}: an object holds it more than once; "
                                "send each key once")
    assert r.xlen(keys.EVENTS_STREAM) == 0


def _write(value: object) -> str:
    """JSON text of ``value``, where a list of pairs (a ``tuple``) is an object that may hold a
    key twice; strings sometimes write ``:`` as ``\\u003a``."""
    if isinstance(value, tuple):
        return "{" + ",".join(f"{_write(k)}:{_write(v)}" for k, v in value) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_write(item) for item in value) + "]"
    if isinstance(value, str):
        return json.dumps(value).replace(":", "\\u003a") if "::" in value else json.dumps(value)
    return json.dumps(value)


KEYS = st.sampled_from(["a", "b", "a:b", "::", "c"])
JSON_TREES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.sampled_from(["x", "1:2", "::", "T10:00"]),
    lambda inner: st.lists(inner, max_size=3)
    | st.lists(st.tuples(KEYS, inner), max_size=4).map(tuple),
    max_leaves=12,
)


def _has_duplicate(value: object) -> bool:
    if isinstance(value, tuple):
        keys = [k for k, _ in value]
        return len(set(keys)) != len(keys) or any(_has_duplicate(v) for _, v in value)
    return isinstance(value, list) and any(_has_duplicate(item) for item in value)


@settings(max_examples=400, deadline=None)
@given(tree=JSON_TREES)
def test_a_repeated_key_is_found_at_any_depth_whatever_the_colons_in_strings(tree: object):
    found = duplicate_keys(_write(tree).encode())
    assert bool(found) == _has_duplicate(tree)
