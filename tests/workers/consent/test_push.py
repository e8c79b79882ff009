"""The CRM's consent reaches Klaviyo: with a time, a historical-import subscribe (in the
default list); without one, nobody is subscribed; newest wins against Klaviyo's own
unsubscribes and suppressions; SMS likewise. Real worker, real Redis, sandbox over HTTP."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import redis

from tests.workers.push_harness import PushAccount

CONSENTED = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
PHONE = "+14155550100"


def _email(profile: dict[str, Any]) -> dict[str, Any]:
    marketing: dict[str, Any] = profile["subscriptions"]["email"]["marketing"]
    return marketing


def _sms(profile: dict[str, Any]) -> dict[str, Any]:
    marketing: dict[str, Any] = profile["subscriptions"]["sms"]["marketing"]
    return marketing


def test_crm_consent_with_a_time_subscribes_as_a_historical_import_in_the_default_list(
        r: redis.Redis, sandbox: Any, worker: None) -> None:
    acct = PushAccount(r, sandbox)
    list_id = acct.create_list("Marketing")
    acct.set(default_list_id=list_id)
    acct.change("C1", marketing="subscribed", marketing_consented_at=CONSENTED)
    acct.change("C2", marketing="subscribed")  # no time: consent is never invented
    info = acct.sync()
    profiles = acct.by_email()
    ann, bob = profiles["c1@example.com"], profiles["c2@example.com"]
    assert _email(ann)["consent"] == "SUBSCRIBED"
    assert datetime.fromisoformat(_email(ann)["consent_timestamp"]) == CONSENTED
    assert _email(bob)["consent"] == "NEVER_SUBSCRIBED"
    assert list_id in ann["lists"]
    assert info["report"]["consent_subscribed"] == 1
    calls = sandbox.calls(acct.key)
    assert calls["bulk_subscribe_profiles"] == {"202": 1}


def test_older_crm_consent_never_undoes_a_newer_klaviyo_unsubscribe_but_newer_consent_does(
        r: redis.Redis, sandbox: Any, worker: None) -> None:
    acct = PushAccount(r, sandbox)
    acct.change("C1")
    acct.change("C2")
    acct.sync()
    profiles = acct.by_email()
    unsubscribed_at = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    for email in ("c1@example.com", "c2@example.com"):
        sandbox.change_consent(profiles[email]["id"], "unsubscribe", at=unsubscribed_at,
                               key=acct.key)
    acct.change("C1", marketing="subscribed",
                marketing_consented_at=unsubscribed_at - timedelta(days=30))  # a stale resend
    acct.change("C2", marketing="subscribed",
                marketing_consented_at=unsubscribed_at + timedelta(hours=2))  # signed up again
    info = acct.sync()
    profiles = acct.by_email()
    assert _email(profiles["c1@example.com"])["consent"] == "UNSUBSCRIBED"
    assert [s["reason"] for s in _email(profiles["c1@example.com"])["suppression"]] == [
        "UNSUBSCRIBE"]
    assert _email(profiles["c2@example.com"])["consent"] == "SUBSCRIBED"
    assert _email(profiles["c2@example.com"])["suppression"] == []
    assert info["report"]["consent_older_than_klaviyo"] == 1
    assert info["report"]["consent_subscribed"] == 1
    details = {cid: json.loads(v) for cid, v in info["details"].items()}
    assert details["C1"]["outcome"] == "consent_older_than_klaviyo"


def test_a_hard_bounce_stays_suppressed_whatever_the_crm_says(
        r: redis.Redis, sandbox: Any, worker: None) -> None:
    acct = PushAccount(r, sandbox)
    acct.change("C1")
    acct.sync()
    profile = acct.by_email()["c1@example.com"]
    sandbox.change_consent(profile["id"], "bounce", at="2026-01-01T00:00:00+00:00",
                           key=acct.key)
    acct.change("C1", marketing="subscribed", marketing_consented_at=CONSENTED)
    info = acct.sync()
    marketing = _email(acct.by_email()["c1@example.com"])
    assert [s["reason"] for s in marketing["suppression"]] == ["HARD_BOUNCE"]
    assert marketing["can_receive_email_marketing"] is False
    assert info["report"]["consent_hard_bounced"] == 1
    assert "bulk_subscribe_profiles" not in sandbox.calls(acct.key)


def test_sms_consent_with_a_time_subscribes_the_phone_and_without_a_phone_it_is_excluded(
        r: redis.Redis, sandbox: Any, worker: None) -> None:
    acct = PushAccount(r, sandbox)
    acct.change("C1", phone=PHONE, sms_marketing="subscribed", sms_consented_at=CONSENTED)
    acct.change("C2", sms_marketing="subscribed", sms_consented_at=CONSENTED)  # no phone
    acct.change("C3", phone="+14155550111", sms_marketing="subscribed")  # no time
    info = acct.sync()
    profiles = acct.by_email()
    sms = _sms(profiles["c1@example.com"])
    assert sms["consent"] == "SUBSCRIBED"
    assert datetime.fromisoformat(sms["consent_timestamp"]) == CONSENTED
    assert _sms(profiles["c3@example.com"])["consent"] == "NEVER_SUBSCRIBED"
    assert _email(profiles["c1@example.com"])["consent"] == "NEVER_SUBSCRIBED"
    assert info["report"]["sms_subscribed"] == 1
    assert info["report"]["sms_excluded"] == 1
    details = {cid: json.loads(v) for cid, v in info["details"].items()}
    assert details["C2"]["outcome"] == "sms_excluded"
    assert "phone" in details["C2"]["reason"]


def test_sms_unsubscribed_in_the_crm_unsubscribes_the_phone(
        r: redis.Redis, sandbox: Any, worker: None) -> None:
    acct = PushAccount(r, sandbox)
    acct.change("C1", phone=PHONE, sms_marketing="subscribed", sms_consented_at=CONSENTED)
    acct.sync()
    acct.change("C1", phone=PHONE, sms_marketing="unsubscribed")
    info = acct.sync()
    assert _sms(acct.by_email()["c1@example.com"])["consent"] == "UNSUBSCRIBED"
    assert info["report"]["sms_unsubscribed"] == 1
