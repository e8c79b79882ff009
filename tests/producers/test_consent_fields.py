"""The webhook's consent fields: accepted and stored with the contact; a malformed or future
consent time is a 422 naming the field (nothing stored); the OpenAPI document describes the
fields and the consent.changed delivery the CRM receives."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema
import pytest
import redis

from shared import constants as keys
from tests.producers.helpers import Webhook, event, running_webhook
from workers.reverse.consent_document import consent_document


@pytest.fixture
def webhook(redis_url: str) -> Iterator[Webhook]:
    with running_webhook(redis_url) as server:
        yield server


def test_consent_with_its_times_is_accepted(webhook: Webhook, r: redis.Redis) -> None:
    answer = webhook.post_events([event(1, marketing="subscribed",
                                        marketing_consented_at="2026-11-20T10:00:00Z",
                                        sms_marketing="subscribed",
                                        sms_consented_at="2026-11-20T10:00:00+01:00")])
    assert answer.status_code == 202
    assert r.xlen(keys.EVENTS_STREAM) == 1


@pytest.mark.parametrize(("field", "value", "words"), [
    ("marketing_consented_at", "yesterday", "datetime"),
    ("marketing_consented_at", "2026-11-20T10:00:00", "timezone"),
    ("sms_consented_at", (datetime.now(UTC) + timedelta(hours=2)).isoformat(), "future"),
    ("marketing_consented_at", (datetime.now(UTC) + timedelta(days=3)).isoformat(), "future"),
    ("sms_marketing", "maybe", "subscribed"),
], ids=["not-a-time", "no-timezone", "sms-hours-ahead", "days-ahead", "unknown-sms-value"])
def test_a_malformed_or_future_consent_is_a_422_naming_the_field_and_nothing_is_stored(
        webhook: Webhook, r: redis.Redis, field: str, value: str, words: str) -> None:
    answer = webhook.post_events([event(1), event(2, **{field: value})])
    assert answer.status_code == 422
    errors = answer.json()["errors"]
    assert [(e["index"], e["field"]) for e in errors] == [(1, f"contact.{field}")]
    assert words in errors[0]["message"]
    assert r.xlen(keys.EVENTS_STREAM) == 0


def test_the_openapi_document_describes_the_consent_fields_and_the_consent_delivery(
        webhook: Webhook) -> None:
    document = webhook.http.get("/openapi.json").json()
    contact = document["components"]["schemas"]["Contact"]["properties"]
    assert {"marketing_consented_at", "sms_marketing", "sms_consented_at"} <= set(contact)
    assert "historical import" in contact["marketing_consented_at"]["description"]
    delivery = document["webhooks"]["consent.changed"]["post"]
    ref = delivery["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/ConsentChanged"
    fields = {"type": "consent.changed", "account": "acme", "contact_id": "C-1",
              "profile_id": "01GDD", "email": "ann@example.com", "phone": "",
              "channel": "email", "consent": "unsubscribed", "reason": "HARD_BOUNCE",
              "occurred_at": "2026-11-20T10:00:00+00:00"}
    sent: dict[str, Any] = consent_document("1732300000000-0", fields)
    jsonschema.validate(sent, {"$ref": ref, "components": document["components"]})
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**sent, "channel": "fax"},
                            {"$ref": ref, "components": document["components"]})
