"""publish(): validated events from Python code, appended with origin ``publish``."""

from __future__ import annotations

import pytest
import redis

from producers.publish import Publisher, PublishError, publish
from shared import constants as keys
from shared.events import ContactEvent
from shared.redis_client import RedisNotConfigured
from tests.producers.helpers import event, stream_entries

pytestmark = pytest.mark.usefixtures("test_account")


def test_publish_appends_dicts_and_models_with_origin_publish(redis_url: str, r: redis.Redis):
    model = ContactEvent.model_validate(event(2))
    assert publish([event(1), model], redis_url=redis_url) == 2
    entries = stream_entries(r)
    assert [entry["origin"] for entry in entries] == ["publish", "publish"]
    assert [ContactEvent.model_validate_json(e["event"]).event_id for e in entries] == [
        "evt-1", "evt-2"]


def test_a_bad_event_is_named_by_index_and_field_and_nothing_is_stored(redis_url: str,
                                                                      r: redis.Redis):
    bad = event(2)
    del bad["contact"]["id"]
    with pytest.raises(PublishError) as refused:
        publish([event(1), bad, event(3, marketing="maybe")], redis_url=redis_url)
    assert [(e.index, e.field) for e in refused.value.errors] == [
        (1, "contact.id"), (2, "contact.marketing")]
    assert "event 1 (evt-2): contact.id: Field required" in str(refused.value)
    assert isinstance(refused.value, ValueError)
    assert r.xlen(keys.EVENTS_STREAM) == 0


def test_a_publisher_reuses_its_connection_and_stores_big_calls_in_steps(redis_url: str,
                                                                        r: redis.Redis):
    with Publisher(redis_url) as publisher:
        assert publisher.publish(event(n) for n in range(2500)) == 2500
        assert publisher.publish([event(9999)]) == 1
    assert r.xlen(keys.EVENTS_STREAM) == 2501


def test_publish_without_a_redis_url_says_how_to_configure_one(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    with pytest.raises(RedisNotConfigured, match="REDIS_URL"):
        publish([event(1)])


def test_an_integer_beyond_64_bits_is_refused_naming_the_field(redis_url: str, r: redis.Redis):
    with pytest.raises(PublishError) as refused:
        publish([event(1), event(2, properties={"big": 2**70})], redis_url=redis_url)
    assert [(e.index, e.field) for e in refused.value.errors] == [
        (1, "contact.properties.big")]
    assert "64-bit" in refused.value.errors[0].message
    assert r.xlen(keys.EVENTS_STREAM) == 0
