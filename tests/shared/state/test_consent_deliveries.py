"""The consent changes delivered to the CRM as the sync screen reads them: from the stream
entries and the per-member delivery records the real delivery order script writes."""

from __future__ import annotations

import time

import redis

from shared import constants as keys
from shared.state.consent_deliveries import consent_deliveries
from workers.reverse.crm_order import MemberOrder

ACCOUNT = "acme"


def _consent_changed(r: redis.Redis, contact_id: str, entry_id: str = "*",
                     reason: str = "UNSUBSCRIBE") -> tuple[str, dict[str, str]]:
    """A ``consent.changed`` entry as docs/REVERSE_SYNC.md gives its fields."""
    fields = {"type": "consent.changed", "account": ACCOUNT, "contact_id": contact_id,
              "list_id": "consent:email", "profile_id": f"P-{contact_id}",
              "email": f"{contact_id.lower()}@example.com", "phone": "+14155550100",
              "channel": "email", "consent": "unsubscribed", "reason": reason,
              "occurred_at": "2026-11-20T10:00:00+00:00", "published_at": str(time.time())}
    added = r.xadd(keys.subscribers_stream(ACCOUNT), fields, id=entry_id)  # type: ignore[arg-type]
    return str(added), fields


def _sign_up(r: redis.Redis, n: int) -> None:
    r.xadd(keys.subscribers_stream(ACCOUNT), {"type": "subscriber.added", "list_id": "L1",
                                              "profile_id": f"P-{n}",
                                              "email": f"s{n}@example.com"})


def test_each_change_shows_whether_the_crm_accepted_it_is_waiting_or_was_given_up(
        r: redis.Redis) -> None:
    order = MemberOrder(r, ACCOUNT)
    accepted_id, accepted = _consent_changed(r, "C-accepted")
    order.join(accepted_id, accepted)
    order.settle(accepted_id, accepted, time.time(), accepted=True)
    retrying_id, retrying = _consent_changed(r, "C-retrying", reason="HARD_BOUNCE")
    order.join(retrying_id, retrying)
    _sign_up(r, 1)
    given_up_id, given_up = _consent_changed(r, "C-given-up")
    order.join(given_up_id, given_up)
    order.settle(given_up_id, given_up, time.time(), accepted=False)  # retries spent
    _consent_changed(r, "C-not-handed-over-yet")

    page = consent_deliveries(r, ACCOUNT)

    states = {c.contact_id: c.state for c in page.changes}
    assert states == {"C-not-handed-over-yet": "pending", "C-given-up": "not_delivered",
                      "C-retrying": "pending", "C-accepted": "delivered"}
    assert [c.contact_id for c in page.changes] == [  # newest first
        "C-not-handed-over-yet", "C-given-up", "C-retrying", "C-accepted"]
    [shown] = [c for c in page.changes if c.contact_id == "C-accepted"]
    assert shown.delivered_at is not None and shown.reason == "UNSUBSCRIBE"
    assert shown.entry_id == accepted_id and shown.occurred_at == "2026-11-20T10:00:00+00:00"
    assert "example.com" not in repr(page) and "+1415" not in repr(page)
    assert page.older is None


def test_a_change_older_than_the_kept_delivery_records_is_unknown(r: redis.Redis) -> None:
    forty_days_ago = int((time.time() - 40 * 86_400) * 1000)
    _consent_changed(r, "C-old", entry_id=f"{forty_days_ago}-0")

    [old] = consent_deliveries(r, ACCOUNT).changes

    assert old.state == "unknown"


def test_a_page_reads_a_bounded_stretch_of_the_stream_and_links_to_the_older_one(
        r: redis.Redis) -> None:
    for n in range(5):
        _consent_changed(r, f"C-{n}")
    for n in range(10):
        _sign_up(r, n)

    signups_only = consent_deliveries(r, ACCOUNT, scan=6, shown=2)
    assert signups_only.changes == [] and signups_only.older is not None

    first = consent_deliveries(r, ACCOUNT, scan=20, shown=2)
    assert [c.contact_id for c in first.changes] == ["C-4", "C-3"]
    second = consent_deliveries(r, ACCOUNT, first.older, scan=20, shown=2)
    assert [c.contact_id for c in second.changes] == ["C-2", "C-1"]
    last = consent_deliveries(r, ACCOUNT, second.older, scan=20, shown=2)
    assert [c.contact_id for c in last.changes] == ["C-0"] and last.older is None
