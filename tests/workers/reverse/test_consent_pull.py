"""Consent changed inside Klaviyo reaches the CRM: the consent pull against the sandbox over
HTTP, real Redis, and (last tests) a real CRM receiver through a real Dramatiq worker."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared import constants as keys
from tests.workers.dramatiq_harness import wait_for
from tests.workers.push_harness import push_worker
from tests.workers.reverse.crm_receiver import CrmReceiver, configure_crm
from tests.workers.reverse.reverse_harness import ReverseAccount
from workers.reverse.actors import pull_list_members
from workers.reverse.consent_pull import ConsentPullResult, pull_consent
from workers.reverse.schedule import ReverseSchedule


def synced(acct: ReverseAccount, redis_url: str, **contacts: dict[str, Any]) -> dict[str, str]:
    """Push the contacts (contact id -> fields) through a real worker; contact id -> the
    Klaviyo profile id."""
    for cid, fields in contacts.items():
        acct.change(cid, **fields)
    with push_worker(redis_url):
        assert acct.sync()["status"] == "completed"
    by_email = acct.by_email()
    return {cid: by_email[f"{cid.lower()}@example.com"]["id"] for cid in contacts}


def pull(acct: ReverseAccount) -> ConsentPullResult:
    return pull_consent(acct.r, acct.klaviyo(), acct.name, time.time())


def changes(acct: ReverseAccount) -> list[dict[str, str]]:
    return [e for e in acct.events() if e["type"] == "consent.changed"]


def test_unsubscribe_bounce_complaint_and_sms_stop_in_klaviyo_are_published_once_each_with_reason_and_time(  # noqa: E501
        redis_url: str, acct: ReverseAccount) -> None:
    ids = synced(acct, redis_url, **{f"C-{n}": {} for n in range(4)},
                 **{"C-SMS": {"phone": "+14155550123"}})
    at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
    acct.sandbox.change_consent(ids["C-0"], "unsubscribe", at=at, key=acct.key)
    acct.sandbox.change_consent(ids["C-1"], "bounce", at=at, key=acct.key)
    acct.sandbox.change_consent(ids["C-2"], "complain", at=at, key=acct.key)
    acct.sandbox.change_consent(ids["C-SMS"], "stop", at=at, key=acct.key)

    first = pull(acct)
    again = pull(acct)

    found = {(e["contact_id"], e["channel"]): e for e in changes(acct)}
    assert sorted(found) == [("C-0", "email"), ("C-1", "email"), ("C-2", "email"),
                             ("C-SMS", "sms")]
    assert found[("C-0", "email")]["reason"] == "UNSUBSCRIBE"
    assert found[("C-1", "email")]["reason"] == "HARD_BOUNCE"
    assert found[("C-2", "email")]["reason"] == "SPAM_COMPLAINT"
    assert {e["consent"] for e in found.values()} == {"unsubscribed"}
    assert {datetime.fromisoformat(e["occurred_at"]) for e in found.values()} == {at}
    assert found[("C-1", "email")]["profile_id"] == ids["C-1"]
    assert first.published == 4 and again.published == 0


def test_a_profile_the_crm_never_sent_publishes_nothing(redis_url: str,
                                                       acct: ReverseAccount) -> None:
    synced(acct, redis_url, **{"C-1": {}})
    stranger = acct.person("stranger@example.com")
    acct.sandbox.change_consent(stranger, "unsubscribe", key=acct.key)

    result = pull(acct)

    assert result.read >= 1  # the stranger was read, and dropped
    assert changes(acct) == []


def test_the_syncs_own_unsubscribe_is_not_reported_back(redis_url: str,
                                                        acct: ReverseAccount) -> None:
    synced(acct, redis_url, **{"C-1": {}, "C-2": {}})
    acct.change("C-1", marketing="unsubscribed")
    with push_worker(redis_url):
        assert acct.sync()["status"] == "completed"
    assert acct.by_email()["c-1@example.com"]["subscriptions"]["email"]["marketing"][
        "consent"] == "UNSUBSCRIBED"  # the sync really unsubscribed them

    result = pull(acct)

    assert result.read >= 1
    assert changes(acct) == []


def test_a_resubscription_and_an_sms_opt_in_in_klaviyo_are_published(
        redis_url: str, acct: ReverseAccount) -> None:
    ids = synced(acct, redis_url, **{"C-1": {"phone": "+14155550124"}})
    acct.sandbox.change_consent(ids["C-1"], "unsubscribe", key=acct.key)
    pull(acct)
    acct.sandbox.change_consent(ids["C-1"], "subscribe", key=acct.key)
    acct.sandbox.change_consent(ids["C-1"], "sms_subscribe", key=acct.key)

    pull(acct)

    seen = [(e["channel"], e["consent"], e["reason"]) for e in changes(acct)]
    assert seen == [("email", "unsubscribed", "UNSUBSCRIBE"), ("email", "subscribed", ""),
                    ("sms", "subscribed", "")]


def test_an_unsubscribe_from_the_default_list_is_published(redis_url: str,
                                                           acct: ReverseAccount) -> None:
    list_id = acct.create_list("Marketing")
    acct.set(default_list_id=list_id)
    ids = synced(acct, redis_url, **{"C-1": {}})
    acct.sandbox.change_consent(ids["C-1"], "unsubscribe_list", list_id=list_id, key=acct.key)

    pull(acct)

    assert [(e["contact_id"], e["consent"], e["reason"]) for e in changes(acct)] == [
        ("C-1", "unsubscribed", "UNSUBSCRIBE")]


def test_state_klaviyo_held_before_the_contact_was_sent_is_history_not_news(
        redis_url: str, acct: ReverseAccount) -> None:
    old = acct.person("c-1@example.com")
    acct.sandbox.change_consent(old, "bounce", at="2020-01-01T00:00:00+00:00", key=acct.key)
    synced(acct, redis_url, **{"C-1": {}})

    pull(acct)

    assert changes(acct) == []


def test_an_incremental_pull_reads_only_profiles_changed_since_its_cursor(
        redis_url: str, acct: ReverseAccount) -> None:
    ids = synced(acct, redis_url, **{f"C-{n}": {} for n in range(6)})
    time.sleep(1.1)  # Klaviyo's filter has second precision
    pull_consent(acct.r, acct.klaviyo(), acct.name, time.time())  # the cursor moves on
    time.sleep(1.1)
    acct.sandbox.change_consent(ids["C-3"], "unsubscribe", key=acct.key)

    result = pull_consent(acct.r, acct.klaviyo(), acct.name, time.time(), lookback=0)

    assert result.read == 2  # by `updated`, and by the suppression's time
    assert [e["contact_id"] for e in changes(acct)] == ["C-3"]


def test_each_change_reaches_the_crm_once_through_the_pull_actor(
        monkeypatch: Any, redis_url: str, acct: ReverseAccount) -> None:
    ids = synced(acct, redis_url, **{"C-1": {}, "C-2": {"phone": "+14155550125"}})
    # Whole seconds, after the sync's own record of the contacts (rounded down, the change
    # could fall before it and count as what Klaviyo held before the CRM sent them).
    at = (datetime.now(UTC) + timedelta(seconds=1)).replace(microsecond=0)
    acct.sandbox.change_consent(ids["C-1"], "bounce", at=at, key=acct.key)
    acct.sandbox.change_consent(ids["C-2"], "stop", at=at, key=acct.key)
    with CrmReceiver() as crm:
        configure_crm(monkeypatch, crm.url)
        with push_worker(redis_url):
            pull_list_members.send(acct.name)
            wait_for(lambda: len(crm.accepted) >= 2, timeout=90)
            acct.r.hdel(keys.pull_state(acct.name), "pull_ended_at")
            pull_list_members.send(acct.name)  # a second pull finds nothing new
            wait_for(lambda: "pull_ended_at" in acct.r.hgetall(keys.pull_state(acct.name)),
                     timeout=90)
            time.sleep(0.5)
        documents = crm.documents()
    assert len(documents) == 2
    by_contact = {d["contact_id"]: d for d in documents}
    assert by_contact["C-1"] == {
        "id": by_contact["C-1"]["id"], "type": "consent.changed", "account": acct.name,
        "contact_id": "C-1",
        "profile": {"id": ids["C-1"], "email": "c-1@example.com", "phone": None},
        "channel": "email", "consent": "unsubscribed", "reason": "HARD_BOUNCE",
        "occurred_at": at.isoformat()}
    assert (by_contact["C-2"]["channel"], by_contact["C-2"]["consent"],
            by_contact["C-2"]["reason"]) == ("sms", "unsubscribed", None)


@pytest.mark.parametrize("state", ["revoked", "no_scope"])
def test_a_pull_refused_by_klaviyo_parks_the_account_instead_of_retrying(
        redis_url: str, acct: ReverseAccount, state: str) -> None:
    synced(acct, redis_url, **{"C-1": {}})
    acct.sandbox.set_key_state(state, key=acct.key)
    with push_worker(redis_url):
        pull_list_members.send(acct.name)
        wait_for(lambda: "pull_ended_at" in acct.r.hgetall(keys.pull_state(acct.name)))
    status = acct.r.hgetall(keys.state(acct.name))
    assert status.get("connection") == "refused", status
    assert acct.name in acct.r.smembers(keys.REFUSED_ACCOUNTS)
    calls = acct.sandbox.calls(acct.key).get("get_profiles", {})
    assert sum(calls.values()) == 1  # refused once, not retried


def test_an_account_without_lists_is_pulled_for_consent_once_the_crm_sent_contacts(
        redis_url: str, acct: ReverseAccount) -> None:
    pulls: list[str] = []
    schedule = ReverseSchedule(acct.r, send_discovery=lambda _account: None,
                               send_pull=pulls.append)
    schedule(time.time())  # nothing sent yet, no lists: it waits for the nightly discovery
    assert acct.name not in pulls
    synced(acct, redis_url, **{"C-1": {}})

    schedule(time.time())

    assert pulls.count(acct.name) == 1
