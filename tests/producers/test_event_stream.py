"""append_events writes what the collector reads: one entry per event, event JSON + origin,
and the compact mirror the collector stores as it is."""

from __future__ import annotations

import pytest
import redis

from producers.event_stream import append_events
from shared import constants as keys
from shared.events import ContactEvent
from shared.state.contact_mirror import MIRROR_FIELD
from tests.producers.helpers import event, stream_entries
from workers.intake.collector import parse_entry


def test_appended_events_are_entries_the_collector_parses_back(r: redis.Redis) -> None:
    events = [ContactEvent.model_validate(event(n)) for n in range(3)]
    assert append_events(r, events, "import") == 3
    entries = stream_entries(r)
    assert [set(entry) for entry in entries] == [
        {"event", "origin", "rules", "account", "contact", MIRROR_FIELD}] * 3
    assert [(entry["account"], entry["contact"]) for entry in entries] == [
        (e.account_id, e.contact.id) for e in events]
    parsed = [parse_entry(entry) for entry in entries]
    assert [(ContactEvent.model_validate(e), origin) for e, origin in parsed] == [
        (e, "import") for e in events]


def test_appending_nothing_writes_nothing(r: redis.Redis) -> None:
    assert append_events(r, [], "webhook") == 0
    assert not r.exists(keys.EVENTS_STREAM)


def test_after_a_redis_restart_the_script_is_loaded_again(redis_url: str, r: redis.Redis) -> None:
    append_events(r, [ContactEvent.model_validate(event(1))], "publish")
    r.script_flush()  # what a restarted Redis forgets
    append_events(r, [ContactEvent.model_validate(event(2))], "publish")
    assert r.xlen(keys.EVENTS_STREAM) == 2


def test_an_unreachable_redis_raises_and_stores_nothing(r: redis.Redis) -> None:
    from shared.redis_client import connect
    from shared.redis_server import free_port

    dead = connect(f"redis://127.0.0.1:{free_port()}/0")
    with pytest.raises(redis.ConnectionError):
        append_events(dead, [ContactEvent.model_validate(event(1))], "webhook")
