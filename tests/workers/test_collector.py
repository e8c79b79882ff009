"""The collector: newest occurred_at wins per contact, bulk flags, several collectors at
once, claims from dead consumers, trimming, and dead letters."""

from __future__ import annotations

import random
import threading
import time

import redis

from shared import constants as keys
from shared.events import ContactEvent, MirroredContact, Origin
from shared.redis_client import connect
from shared.state.contact_mirror import decode_mirror
from tests.support.redis_reads import sorted_members, stream_entries
from tests.workers.collector_helpers import event, publish
from workers.intake.collector import Collector


def drain(collector: Collector) -> int:
    total = 0
    while handled := collector.run_once():
        total += handled
    return total


def mirror(r: redis.Redis, contact_id: str, account: str = "acme") -> MirroredContact:
    return decode_mirror(contact_id, r.get(keys.contact(account, contact_id)) or "")


def test_the_newest_occurred_at_wins_whatever_the_arrival_order(r: redis.Redis) -> None:
    publish(r, event("C-1", 300, first_name="Third"), event("C-1", 100, first_name="First"),
            event("C-1", 200, first_name="Second"))
    assert drain(Collector(r, "c1", block_ms=0)) == 3
    assert mirror(r, "C-1").contact.first_name == "Third"
    assert r.zrange(keys.pending("acme"), 0, -1, withscores=True) == [("C-1", 300.0)]
    assert r.zrange(keys.contact_times("acme"), 0, -1) == ["C-1"]


def test_an_equal_or_older_state_changes_nothing(r: redis.Redis) -> None:
    collector = Collector(r, "c1", block_ms=0)
    publish(r, event("C-1", 200, first_name="Kept"))
    drain(collector)
    r.delete(keys.pending("acme"))  # as if a batch took it
    publish(r, event("C-1", 200, first_name="Same time"), event("C-1", 150, first_name="Old"))
    drain(collector)
    assert mirror(r, "C-1").contact.first_name == "Kept"
    assert r.zcard(keys.pending("acme")) == 0


def test_a_delete_is_mirrored_and_pending(r: redis.Redis) -> None:
    publish(r, event("C-1", 100), event("C-1", 200, deleted=True))
    drain(Collector(r, "c1", block_ms=0))
    assert mirror(r, "C-1").deleted
    assert r.zscore(keys.pending("acme"), "C-1") == 200.0


def test_bulk_changes_are_flagged_and_a_later_one_by_one_change_unflags_them(
    r: redis.Redis,
) -> None:
    collector = Collector(r, "c1", block_ms=0)
    publish(r, event("C-1", 100), event("C-2", 100), origin="import")
    drain(collector)
    assert r.zrange(keys.pending_bulk("acme"), 0, -1) == ["C-1", "C-2"]
    assert mirror(r, "C-1").origin == "import"
    publish(r, event("C-1", 150), origin="webhook")
    publish(r, event("C-2", 50), origin="webhook")  # older: changes nothing
    drain(collector)
    assert r.zrange(keys.pending_bulk("acme"), 0, -1) == ["C-2"]
    assert r.zrange(keys.pending("acme"), 0, -1, withscores=True) == [("C-2", 100), ("C-1", 150)]


def test_accounts_seen_in_events_are_registered(r: redis.Redis) -> None:
    publish(r, event("C-1", 1, account="acme"), event("C-1", 1, account="globex"),
            event("C-1", 1, account="default"))
    drain(Collector(r, "c1", block_ms=0))
    assert r.smembers(keys.ACCOUNTS_SET) == {"acme", "globex"}
    assert r.zcard(keys.pending("globex")) == 1 and r.zcard(keys.pending("default")) == 1


def test_three_collectors_at_once_keep_each_contact_once_with_its_newest_state(
    r: redis.Redis, redis_url: str,
) -> None:
    events = [event(f"C-{n}", at, first_name=f"v{at}", account=f"acct{n % 3}")
              for n in range(1000) for at in (1, 2, 3)]
    random.Random(7).shuffle(events)
    for start in range(0, len(events), 500):
        publish(r, *events[start:start + 500])
    handled: list[int] = []

    def run(name: str) -> None:
        client = connect(redis_url)
        handled.append(drain(Collector(client, name, block_ms=0, count=100)))
        client.close()

    threads = [threading.Thread(target=run, args=(f"c{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(handled) == 3000
    for account in ("acct0", "acct1", "acct2"):
        ids = sorted_members(r, keys.contact_times(account))
        assert r.zcard(keys.pending(account)) == len(ids)
        for contact_id in ids:
            assert mirror(r, contact_id, account).contact.first_name == "v3"
    assert sum(r.zcard(keys.pending(f"acct{i}")) for i in range(3)) == 1000
    assert r.xpending(keys.EVENTS_STREAM, keys.COLLECTOR_GROUP)["pending"] == 0
    assert r.xlen(keys.EVENTS_STREAM) == 0  # trimmed once acknowledged


def test_entries_of_a_consumer_that_died_are_claimed_by_another(r: redis.Redis) -> None:
    Collector(r, "dead", block_ms=0).ensure_group()
    publish(r, event("C-1", 100), event("C-2", 100))
    # The dead consumer read both entries, then died before applying them.
    r.xreadgroup(keys.COLLECTOR_GROUP, "dead", {keys.EVENTS_STREAM: ">"}, count=10)
    live = Collector(r, "live", block_ms=0, claim_idle_ms=0)
    assert drain(live) == 2
    assert r.zrange(keys.pending("acme"), 0, -1) == ["C-1", "C-2"]
    assert r.xpending(keys.EVENTS_STREAM, keys.COLLECTOR_GROUP)["pending"] == 0


def test_trimming_keeps_unacknowledged_and_unread_entries(r: redis.Redis) -> None:
    live = Collector(r, "live", block_ms=0, claim_idle_ms=60_000, count=5)
    live.ensure_group()
    stuck = publish(r, *[event(f"C-{n}", 100) for n in range(5)])
    r.xreadgroup(keys.COLLECTOR_GROUP, "stuck", {keys.EVENTS_STREAM: ">"}, count=5)
    done = publish(r, *[event(f"D-{n}", 100) for n in range(5)])
    assert live.run_once() == 5  # the D entries; the stuck consumer's are not idle enough
    unread = publish(r, event("E-1", 100))
    # Only a prefix can be trimmed: the stuck entries come first, so all stay.
    assert [entry_id for entry_id, _ in stream_entries(r, keys.EVENTS_STREAM)] == (
        stuck + done + unread)
    rescuer = Collector(r, "rescuer", block_ms=0, claim_idle_ms=0, count=5)
    assert rescuer.run_once() == 5  # claims the stuck entries and acknowledges them
    assert [entry_id for entry_id, _ in stream_entries(r, keys.EVENTS_STREAM)] == unread


def test_a_malformed_entry_is_dead_lettered_not_lost(r: redis.Redis) -> None:
    good = event("C-1", 100)
    r.xadd(keys.EVENTS_STREAM, {"event": "{not json", "origin": "webhook"})
    r.xadd(keys.EVENTS_STREAM, {"event": good.model_dump_json(), "origin": "carrier-pigeon"})
    r.xadd(keys.EVENTS_STREAM, {"origin": "webhook"})
    publish(r, good)
    assert drain(Collector(r, "c1", block_ms=0)) == 4
    dead = stream_entries(r, keys.EVENTS_DEAD)
    assert [fields["error"].split(":")[0] for _, fields in dead] == ["event", "origin", "event"]
    assert dead[0][1]["event"] == "{not json"  # kept as it came, for inspection and replay
    assert r.zrange(keys.pending("acme"), 0, -1) == ["C-1"]
    assert r.xpending(keys.EVENTS_STREAM, keys.COLLECTOR_GROUP)["pending"] == 0


def test_a_dead_lettered_entry_older_than_the_retention_goes_when_another_arrives(
        r: redis.Redis) -> None:
    expired_ms = int((time.time() - keys.EVENTS_DEAD_RETENTION_S - 60) * 1000)
    r.xadd(keys.EVENTS_DEAD, {"entry_id": "0-1", "error": "event: old"}, id=f"{expired_ms}-0")
    r.xadd(keys.EVENTS_STREAM, {"event": "{not json", "origin": "webhook"})
    assert drain(Collector(r, "c1", block_ms=0)) == 1
    dead = stream_entries(r, keys.EVENTS_DEAD)
    assert [fields["event"] for _, fields in dead] == ["{not json"]


def test_run_forever_stops_when_asked(r: redis.Redis) -> None:
    stop = threading.Event()
    collector = Collector(r, "c1", block_ms=50)
    thread = threading.Thread(target=collector.run_forever, args=(stop,))
    thread.start()
    publish(r, event("C-1", 100))
    while not r.exists(keys.pending("acme")):
        stop.wait(0.01)
    stop.set()
    thread.join(timeout=10)
    assert not thread.is_alive()


def test_a_collector_recreates_its_group_when_the_stream_was_deleted(r: redis.Redis) -> None:
    stop = threading.Event()
    collector = Collector(r, "c1", block_ms=50)
    collector.run_once()
    r.delete(keys.EVENTS_STREAM)  # e.g. an operator flushed it
    thread = threading.Thread(target=collector.run_forever, args=(stop,))
    thread.start()
    while not r.exists(keys.EVENTS_STREAM):
        stop.wait(0.01)
    publish(r, event("C-1", 100))
    while not r.exists(keys.pending("acme")):
        stop.wait(0.01)
    stop.set()
    thread.join(timeout=10)
    assert r.zrange(keys.pending("acme"), 0, -1) == ["C-1"]


def test_events_appended_by_the_producers_are_applied(r: redis.Redis) -> None:
    from producers.event_stream import append_events

    append_events(r, [event("C-1", 100), event("C-1", 50, first_name="Older")], "import")
    assert drain(Collector(r, "c1", block_ms=0)) == 2
    assert mirror(r, "C-1").origin == "import" and mirror(r, "C-1").contact.first_name is None
    assert r.zrange(keys.pending_bulk("acme"), 0, -1) == ["C-1"]


def test_events_are_applied_after_redis_forgot_the_collectors_script(r: redis.Redis) -> None:
    collector = Collector(r, "c1", block_ms=0)
    publish(r, event("C-1", 100, first_name="Before"))
    drain(collector)
    r.script_flush()  # as after a Redis restart without persistence of scripts
    publish(r, event("C-1", 200, first_name="After"), event("C-2", 200))
    assert drain(collector) == 2
    assert mirror(r, "C-1").contact.first_name == "After"
    assert r.zrange(keys.pending("acme"), 0, -1) == ["C-1", "C-2"]


def test_an_entry_stamped_with_these_rules_is_mirrored_as_if_validated_again(
        r: redis.Redis) -> None:
    from shared.wire_events import EVENT_RULES

    item = event("C-1", 100, first_name="Ann", role="Buyer", phone="+447911123456",
                 company={"id": "CO-1", "name": "Acme", "type": "Customer"},
                 properties={"tier": 2, "tags": ["a"]})
    twin = item.model_copy(update={"contact": item.contact.model_copy(update={"id": "C-2"})})
    r.xadd(keys.EVENTS_STREAM, {"event": item.model_dump_json(), "origin": "webhook",
                                "rules": EVENT_RULES})
    publish(r, twin)  # no stamp: validated again
    assert drain(Collector(r, "c1", block_ms=0)) == 2
    trusted, validated = mirror(r, "C-1"), mirror(r, "C-2")
    assert trusted.contact.model_copy(update={"id": "C-2"}) == validated.contact
    assert trusted.occurred_at == validated.occurred_at and trusted.origin == "webhook"


def test_an_entry_stamped_with_other_rules_or_not_json_is_validated_and_dead_lettered(
        r: redis.Redis) -> None:
    from shared.wire_events import EVENT_RULES

    bad = event("C-1", 100).model_dump_json().replace('"acme"', '"no spaces allowed"')
    r.xadd(keys.EVENTS_STREAM, {"event": bad, "origin": "webhook", "rules": "older-rules"})
    r.xadd(keys.EVENTS_STREAM, {"event": "{not json", "origin": "webhook",
                                "rules": EVENT_RULES})
    assert drain(Collector(r, "c1", block_ms=0)) == 2
    errors = [fields["error"] for _, fields in stream_entries(r, keys.EVENTS_DEAD)]
    assert errors == ["event: account_id: string_pattern_mismatch", "event: event: json_invalid"]
    assert r.zcard(keys.pending("no spaces allowed")) == 0


def account_state(r: redis.Redis, account: str, ids: list[str]) -> dict[str, object]:
    """What the collector stored for ``account``: mirrors as bytes-for-bytes, sets, facets."""
    return {
        "mirrors": r.mget([keys.contact(account, cid) for cid in ids]),
        "times": r.zrange(keys.contact_times(account), 0, -1, withscores=True),
        "pending": r.zrange(keys.pending(account), 0, -1, withscores=True),
        "bulk": r.zrange(keys.pending_bulk(account), 0, -1, withscores=True),
        "facets": r.hgetall(keys.contact_facets(account)),
    }


def test_an_entry_with_the_producers_mirror_and_an_old_entry_land_identically(
        r: redis.Redis) -> None:
    from producers.event_stream import append_events

    def history(account: str) -> list[tuple[list[ContactEvent], Origin]]:
        return [
            ([event("C-1", 100, account, first_name="Ann"),
              event("C-1", 50, account, first_name="Older"),
              event("C-2", 100, account, email="not-an-address"),
              event("C-4", 100, account, role="Owner", company={"name": "Beta"})], "import"),
            ([event("C-2", 200, account, deleted=True), event("C-3", 150, account),
              event("C-1", 120, account, last_name="Later", role="Buyer",
                    marketing="subscribed", phone="+447911123456", job_title="CTO",
                    company={"id": "CO-1", "name": "Acme", "type": "Customer"},
                    properties={"tier": 2, "tags": ["a"]})], "webhook"),
        ]

    for events, origin in history("acme"):
        append_events(r, events, origin)  # the new form: the producers' compact mirror
    for events, origin in history("beta"):
        publish(r, *events, origin=origin)  # an older release's entries: event + origin only
    assert drain(Collector(r, "c1", block_ms=0)) == 14
    ids = ["C-1", "C-2", "C-3", "C-4"]
    assert account_state(r, "acme", ids) == account_state(r, "beta", ids)
    newest = mirror(r, "C-1", "beta").contact
    assert (newest.last_name, newest.role, newest.company and newest.company.type) == (
        "Later", "Buyer", "Customer")
    assert r.zrange(keys.pending_bulk("beta"), 0, -1) == ["C-4"]  # the rest unflagged


def test_a_stamped_entry_whose_mirror_is_not_compact_is_dead_lettered_alone(
        r: redis.Redis) -> None:
    from producers.event_stream import append_events
    from shared.state.contact_mirror import MIRROR_FIELD
    from shared.wire_events import EVENT_RULES

    append_events(r, [event("C-1", 100)], "webhook")
    r.xadd(keys.EVENTS_STREAM, {"event": "{}", "origin": "webhook", "rules": EVENT_RULES,
                                "account": "acme", "contact": "C-2", MIRROR_FIELD: "garbage"})
    append_events(r, [event("C-3", 100)], "webhook")
    assert drain(Collector(r, "c1", block_ms=0)) == 3
    assert r.zrange(keys.pending("acme"), 0, -1) == ["C-1", "C-3"]
    dead = [fields for _, fields in stream_entries(r, keys.EVENTS_DEAD)]
    assert [(f["error"], f["contact"]) for f in dead] == [("apply: script error", "C-2")]
