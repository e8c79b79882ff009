"""The webhook over real HTTP on a real Redis: every answer of the contract table."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import orjson
import pytest
import redis

from producers.signature import sign
from shared import constants as keys
from shared.events import ContactEvent
from shared.redis_client import connect
from shared.redis_server import EmbeddedRedis
from tests.producers.helpers import (
    OLD_SECRET,
    SECRET,
    Webhook,
    event,
    running_webhook,
    stream_entries,
)


@pytest.fixture
def webhook(redis_url: str) -> Iterator[Webhook]:
    with running_webhook(redis_url) as server:
        yield server


def test_a_signed_batch_is_stored_exactly_before_the_202(webhook: Webhook, r: redis.Redis):
    events = [event(n) for n in range(3)]
    answer = webhook.post_events(events)
    assert answer.status_code == 202
    assert answer.json() == {"accepted": 3}
    entries = stream_entries(r)
    assert [entry["origin"] for entry in entries] == ["webhook"] * 3
    stored = [ContactEvent.model_validate_json(entry["event"]) for entry in entries]
    assert stored == [ContactEvent.model_validate(item) for item in events]
    assert entries[0]["event"] == stored[0].model_dump_json(exclude_unset=True)


def test_an_empty_batch_is_accepted_and_stores_nothing(webhook: Webhook, r: redis.Redis):
    answer = webhook.post_events([])
    assert (answer.status_code, answer.json()) == (202, {"accepted": 0})
    assert r.xlen(keys.EVENTS_STREAM) == 0


def test_an_invalid_email_is_accepted_not_refused(webhook: Webhook, r: redis.Redis):
    answer = webhook.post_events([event(1, email="not-an-email"), event(2, email=None)])
    assert answer.status_code == 202
    assert r.xlen(keys.EVENTS_STREAM) == 2


@pytest.mark.parametrize("body", [b"{not json", b"", b"\xff\xfe\x00garbage",
                                  b'{"events": [' + b"[" * 5000 + b"]" * 5000 + b"]}"],
                         ids=["broken", "empty", "not-utf8", "nested-5000-deep"])
def test_a_body_that_is_not_json_is_refused_with_400(webhook: Webhook, r: redis.Redis,
                                                      body: bytes):
    answer = webhook.post(body)
    assert answer.status_code == 400
    assert "not valid UTF-8 JSON" in answer.json()["detail"]
    assert r.xlen(keys.EVENTS_STREAM) == 0


def test_a_request_without_signature_is_refused_with_401(webhook: Webhook, r: redis.Redis):
    answer = webhook.post_events([event(1)], secret=None)
    assert answer.status_code == 401
    assert answer.json()["detail"] == "missing X-Sync-Signature header"
    assert r.xlen(keys.EVENTS_STREAM) == 0


def test_a_signature_made_with_another_secret_is_refused_with_401(webhook: Webhook,
                                                                   r: redis.Redis):
    answer = webhook.post_events([event(1)], secret="not-the-secret")
    assert answer.status_code == 401
    detail = answer.json()["detail"]
    assert "does not match" in detail and SECRET not in detail
    assert r.xlen(keys.EVENTS_STREAM) == 0


def test_a_body_changed_after_signing_is_refused_with_401(webhook: Webhook):
    body = orjson.dumps({"events": [event(1)]})
    signed = webhook.post(body).request.headers["X-Sync-Signature"]
    tampered = body.replace(b"C-1", b"C-2")
    answer = webhook.http.post("/v1/contact-events", content=tampered,
                               headers={"X-Sync-Signature": signed})
    assert answer.status_code == 401
    assert "does not match" in answer.json()["detail"]


def test_a_stale_signature_is_refused_with_401(webhook: Webhook, r: redis.Redis):
    answer = webhook.post_events([event(1)], timestamp=int(time.time()) - 301)
    assert answer.status_code == 401
    assert answer.json()["detail"].startswith("stale X-Sync-Signature")
    future = webhook.post_events([event(1)], timestamp=int(time.time()) + 3600)
    assert future.status_code == 401
    assert "stale" in future.json()["detail"]
    assert r.xlen(keys.EVENTS_STREAM) == 0


@pytest.mark.parametrize("header", ["v1=abc", "t=now,v1=" + "0" * 64, "t=1", "sha256=deadbeef"])
def test_a_malformed_signature_header_is_refused_with_401(webhook: Webhook, header: str):
    answer = webhook.http.post("/v1/contact-events", content=b'{"events": []}',
                               headers={"X-Sync-Signature": header})
    assert answer.status_code == 401
    assert answer.json()["detail"].startswith("malformed X-Sync-Signature header")


def test_the_previous_secret_is_still_accepted_while_secrets_rotate(webhook: Webhook,
                                                                     r: redis.Redis):
    assert webhook.post_events([event(1)], secret=OLD_SECRET).status_code == 202
    assert webhook.post_events([event(2)], secret=SECRET).status_code == 202
    # A CRM that signs with both secrets at once sends two v1 values.
    body = orjson.dumps({"events": [event(3)]})
    from producers.signature import compute

    t = int(time.time())
    header = f"t={t},v1={compute('retired', t, body)},v1={compute(SECRET, t, body)}"
    answer = webhook.http.post("/v1/contact-events", content=body,
                               headers={"X-Sync-Signature": header})
    assert answer.status_code == 202
    assert r.xlen(keys.EVENTS_STREAM) == 3


def test_more_than_1000_events_are_refused_with_413(webhook: Webhook, r: redis.Redis):
    answer = webhook.post_events([event(n) for n in range(1001)])
    assert answer.status_code == 413
    assert "at most 1000" in answer.json()["detail"]
    assert r.xlen(keys.EVENTS_STREAM) == 0
    assert webhook.post_events([event(n) for n in range(1000)]).json() == {"accepted": 1000}


def test_a_body_over_5_mb_is_refused_with_413_by_its_content_length(webhook: Webhook,
                                                                     r: redis.Redis):
    body = b'{"events": [], "pad": "' + b"x" * (5 * 1024 * 1024) + b'"}'
    answer = webhook.post(body)
    assert answer.status_code == 413
    assert "5 MB" in answer.json()["detail"]
    assert r.xlen(keys.EVENTS_STREAM) == 0


def test_a_streamed_body_over_5_mb_is_refused_with_413_without_reading_it_all(
    webhook: Webhook, r: redis.Redis,
):
    sent = 0

    def chunks() -> Iterator[bytes]:
        nonlocal sent
        yield b'{"events": [], "pad": "'
        for _ in range(64):  # up to 64 MB, if the server kept reading
            sent += 1
            yield b"x" * (1024 * 1024)

    try:
        answer = webhook.http.post("/v1/contact-events", content=chunks(),
                                   # fresh and well-formed (else refused before the body)
                                   headers={"X-Sync-Signature": sign("not-the-secret", b"")})
    except httpx.TransportError:
        pytest.fail("the server should answer 413, not drop the connection")
    assert answer.status_code == 413
    assert "body over" in answer.json()["detail"]
    assert r.xlen(keys.EVENTS_STREAM) == 0


def test_schema_errors_are_listed_per_event_and_field_and_nothing_is_stored(
    webhook: Webhook, r: redis.Redis,
):
    events = [event(n) for n in range(5)]
    del events[1]["contact"]["id"]
    events[3]["type"] = "contact.merged"
    events[3]["contact"]["company"]["id"] = ""
    events[4]["occurred_at"] = "2026-11-22T10:00:00"
    events[4]["contact"]["shoe_size"] = 42
    answer = webhook.post_events(events)
    assert answer.status_code == 422
    body = answer.json()
    assert "nothing of this request was stored" in body["detail"]
    found = {(e["index"], e["field"]) for e in body["errors"]}
    assert found == {(1, "contact.id"), (3, "type"), (3, "contact.company.id"),
                     (4, "occurred_at"), (4, "contact.shoe_size")}
    by_field = {e["field"]: e for e in body["errors"]}
    assert by_field["contact.id"] == {"index": 1, "event_id": "evt-1", "field": "contact.id",
                                      "message": "Field required"}
    assert by_field["contact.shoe_size"]["message"] == "Extra inputs are not permitted"
    assert "timezone" in by_field["occurred_at"]["message"]
    assert r.xlen(keys.EVENTS_STREAM) == 0


def test_an_integer_beyond_64_bits_in_properties_is_a_422_naming_it_and_nothing_is_stored(
    webhook: Webhook, r: redis.Redis,
):
    events = [event(0, properties={"big": 2**64}), event(1),
              event(2, properties={"ok": 1, "nested": {"ids": [7, -(2**63) - 1]}})]
    answer = webhook.post(json.dumps({"events": events}).encode())  # orjson: 64 bits only
    assert answer.status_code == 422
    body = answer.json()
    assert "nothing of this request was stored" in body["detail"]
    message = ("Value error, integer beyond the signed 64-bit range (-2**63 .. 2**63-1); "
               "send it as a string")
    assert body["errors"] == [
        {"index": 0, "event_id": "evt-0", "field": "contact.properties.big",
         "message": message},
        {"index": 2, "event_id": "evt-2", "field": "contact.properties.nested.ids[1]",
         "message": message},
    ]
    assert r.xlen(keys.EVENTS_STREAM) == 0


def test_integers_at_the_edges_of_64_bits_are_stored_exactly(webhook: Webhook, r: redis.Redis):
    edges = {"max": 2**63 - 1, "min": -(2**63), "deep": [{"max": 2**63 - 1}]}
    answer = webhook.post_events([event(1, properties=edges)])
    assert answer.status_code == 202
    [entry] = stream_entries(r)
    assert orjson.loads(entry["event"])["contact"]["properties"] == edges


@pytest.mark.parametrize("body", [b"[]", b'"events"', b"{}", b'{"events": {}}',
                                  b'{"events": [1, null]}'])
def test_a_body_of_the_wrong_shape_is_a_422_naming_the_field(webhook: Webhook, body: bytes):
    answer = webhook.post(body)
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] in ("(body)", "events", "(event)")


def test_redis_down_answers_503_with_retry_after_then_recovers_without_restart():
    with EmbeddedRedis() as private, running_webhook(private.url) as webhook:
        assert webhook.post_events([event(1)]).status_code == 202
        private.kill()
        down = webhook.post_events([event(2)], configure=False)
        assert down.status_code == 503
        assert int(down.headers["Retry-After"]) > 0
        assert "unreachable" in down.json()["detail"]
        assert webhook.http.get("/readyz").status_code == 503
        assert webhook.http.get("/healthz").status_code == 200
        private.start()
        again = webhook.post_events([event(3)])
        assert again.status_code == 202
        assert webhook.http.get("/readyz").status_code == 200
        client = connect(private.url)
        ids = [ContactEvent.model_validate_json(f["event"]).event_id
               for f in stream_entries(client)]
        client.close()
        assert ids[-1] == "evt-3" and "evt-2" not in ids


def test_health_readiness_and_metrics_answer(webhook: Webhook):
    assert webhook.http.get("/healthz").json() == {"status": "ok"}
    assert webhook.http.get("/readyz").status_code == 200
    webhook.post_events([event(1), event(2)])
    webhook.post_events([event(3)], secret="wrong")
    assert webhook.http.get("/metrics").status_code == 404  # not on the public port
    metrics = httpx.get(webhook.metrics_url)
    assert metrics.status_code == 200
    assert 'contact_sync_events_received_total{source="webhook"}' in metrics.text
    assert 'contact_sync_events_refused_total{reason="signature"}' in metrics.text


def test_the_openapi_document_describes_the_event_batch_body(webhook: Webhook):
    document = webhook.http.get("/openapi.json").json()
    operation = document["paths"]["/v1/contact-events"]["post"]
    schema_ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert schema_ref == "#/components/schemas/EventBatch"
    schemas = document["components"]["schemas"]
    assert {"EventBatch", "ContactEvent", "Contact", "Company"} <= set(schemas)
    assert {"202", "400", "401", "413", "422", "503"} <= set(operation["responses"])
    assert any(p["name"] == "X-Sync-Signature" for p in operation["parameters"])
