"""sentry-sdk pointed at a real local HTTP endpoint: errors arrive, with no email, phone
number or Klaviyo key anywhere in the envelope."""

from __future__ import annotations

import pytest
import redis
import sentry_sdk

from shared.settings import Settings
from shared.telemetry.sentry import init_sentry, release, scrub_event
from tests.support.sentry_envelopes import Envelopes
from tests.workers.dramatiq_harness import (
    FAIL_FLAG,
    flaky_actor,
    make_broker,
    running_worker,
    wait_for,
)

EMAIL, PHONE, KEY = "ann.lee@example.com", "+447700900123", "pk_3f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c"
CONFIGURED_KEY = "klaviyo-key-configured-12345"


def _settings(dsn: str) -> Settings:
    return Settings.model_validate({"SENTRY_DSN": dsn, "KLAVIYO_API_KEY": CONFIGURED_KEY})


def _no_personal_data(text: str) -> None:
    for secret in (EMAIL, PHONE, KEY, CONFIGURED_KEY):
        assert secret not in text, f"{secret} leaked to Sentry"


def sync_contact(contact: dict[str, str], api_key: str) -> None:
    klaviyo_key = api_key  # a local the SDK would capture  # noqa: F841
    raise ValueError(f"Klaviyo refused {contact['email']} ({contact['phone']}) with key {KEY}")


def test_an_error_reaches_sentry_without_email_phone_or_key(
        envelopes: Envelopes, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNC_ENVIRONMENT", "staging")
    assert init_sentry(_settings(envelopes.dsn), "worker")
    try:
        sync_contact({"email": EMAIL, "phone": PHONE}, CONFIGURED_KEY)
    except ValueError as error:
        sentry_sdk.capture_exception(error)
    sentry_sdk.flush(timeout=10)
    text = envelopes.text()
    assert "ValueError" in text and "Klaviyo refused a***@example.com (+***)" in text
    assert '"environment":"staging"' in text.replace(" ", "")
    assert release() in text and '"process":"worker"' in text.replace(" ", "")
    _no_personal_data(text)


def test_a_failing_dramatiq_message_reaches_sentry_scrubbed(
        envelopes: Envelopes, r: redis.Redis, redis_url: str) -> None:
    assert init_sentry(_settings(envelopes.dsn), "worker")
    broker = make_broker(redis_url)  # after init: the integration hooks into the broker
    actor = flaky_actor(broker, redis_url)
    r.set(FAIL_FLAG, "1")
    with running_worker(broker):
        actor.send("acme", "b-1")
        wait_for(lambda: sentry_sdk.flush(timeout=1) or "RuntimeError" in envelopes.text())
    text = envelopes.text()
    assert actor.actor_name in text and "a***@example.com" in text
    _no_personal_data(text)


def test_without_a_dsn_sentry_stays_off() -> None:
    assert not init_sentry(Settings.model_validate({}), "web")


def test_scrub_event_masks_nested_values_and_drops_the_user() -> None:
    event = {"user": {"ip_address": "10.0.0.1", "email": EMAIL},
             "breadcrumbs": {"values": [{"message": f"sent {EMAIL}", "data": {PHONE: KEY}}]},
             "extra": {"args": ("acme", f"{CONFIGURED_KEY}")}}
    cleaned = scrub_event(event, [CONFIGURED_KEY])
    assert "user" not in cleaned
    _no_personal_data(repr(cleaned))
    assert cleaned["breadcrumbs"]["values"][0]["message"] == "sent a***@example.com"


def test_redis_command_arguments_never_reach_sentry(envelopes: Envelopes, r: redis.Redis) -> None:
    last_name = "Quill" + "feather-" + KEY[-6:]  # not a literal a source line could carry
    assert init_sentry(_settings(envelopes.dsn), "worker")
    r.hset("sync:{acme}:contact:C-1", mapping={"last_name": last_name, "phone": "020 7946 0958"})
    sentry_sdk.capture_message("batch failed")
    sentry_sdk.flush(timeout=10)
    text = envelopes.text()
    assert "batch failed" in text and '"message":"HSET"' in text.replace(" ", "")
    assert last_name not in text and "7946" not in text


def test_scrub_event_keeps_only_method_and_path_of_a_request_and_commands_of_spans() -> None:
    event = {
        "request": {"method": "POST", "url": "http://h/v1/contact-events?email=x",
                    "headers": {"x-sync-signature": "t=1,v1=abc"}, "data": "{...}",
                    "cookies": {"s": "1"}, "query_string": "email=x"},
        "spans": [{"op": "db.redis", "description": "EVALSHA 'sha' 1 'k' 'Ann Quill'",
                   "data": {"db.operation": "EVALSHA", "db.query.text": "EVALSHA ... Quill"}}],
        "extra": {"sys.argv": ["contact-sync", "accounts", "add", "X", "--klaviyo-key", "k"]},
    }
    cleaned = scrub_event(event)
    assert cleaned["request"] == {"method": "POST", "url": "http://h/v1/contact-events"}
    assert cleaned["spans"] == [{"op": "db.redis", "description": "EVALSHA",
                                 "data": {"db.operation": "EVALSHA"}}]
    assert cleaned["extra"]["sys.argv"] == ["contact-sync", "accounts"]
