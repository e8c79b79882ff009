"""sentry-sdk pointed at a real local HTTP endpoint: errors arrive, with no email, phone
number or Klaviyo key anywhere in the envelope."""

from __future__ import annotations

import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, unquote, unquote_plus

import httpx
import sentry_sdk
from klaviyo_api import KlaviyoAPI

from shared.settings import Settings
from shared.telemetry.sentry import init_sentry, release, scrub_event
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


def test_an_error_reaches_sentry_without_email_phone_or_key(envelopes, monkeypatch):
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


def test_a_failing_dramatiq_message_reaches_sentry_scrubbed(envelopes, r, redis_url):
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


def test_without_a_dsn_sentry_stays_off():
    assert not init_sentry(Settings.model_validate({}), "web")


def test_scrub_event_masks_nested_values_and_drops_the_user():
    event = {"user": {"ip_address": "10.0.0.1", "email": EMAIL},
             "breadcrumbs": {"values": [{"message": f"sent {EMAIL}", "data": {PHONE: KEY}}]},
             "extra": {"args": ("acme", f"{CONFIGURED_KEY}")}}
    cleaned = scrub_event(event, [CONFIGURED_KEY])
    assert "user" not in cleaned
    _no_personal_data(repr(cleaned))
    assert cleaned["breadcrumbs"]["values"][0]["message"] == "sent a***@example.com"


def test_redis_command_arguments_never_reach_sentry(envelopes, r):
    last_name = "Quill" + "feather-" + KEY[-6:]  # not a literal a source line could carry
    assert init_sentry(_settings(envelopes.dsn), "worker")
    r.hset("sync:{acme}:contact:C-1", mapping={"last_name": last_name, "phone": "020 7946 0958"})
    sentry_sdk.capture_message("batch failed")
    sentry_sdk.flush(timeout=10)
    text = envelopes.text()
    assert "batch failed" in text and '"message":"HSET"' in text.replace(" ", "")
    assert last_name not in text and "7946" not in text


def test_scrub_event_keeps_only_method_and_path_of_a_request_and_commands_of_spans():
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


OLD_EMAIL, NEW_EMAIL = "ann.lee+old@example.com", "ann.lee.new@example.com"


def _every_decoding(text: str) -> list[str]:
    once = unquote(text)
    return [text, once, unquote(once), unquote_plus(unquote_plus(text))]


def test_a_failed_profile_lookup_by_email_puts_no_address_in_any_event(envelopes, sandbox):
    """Issue 19: the httplib breadcrumb kept the filter URL-encoded (``%40``) in
    ``http.query``, which the scrubber's pattern missed: 9 events carried both addresses
    of an email change."""
    assert init_sentry(_settings(envelopes.dsn), "worker")
    api = KlaviyoAPI("pk_" + "0" * 34, max_delay=0, max_retries=0, test_host=sandbox.url)
    with sentry_sdk.start_transaction(name="email change"):
        try:
            api.Profiles.get_profiles(filter=f'any(email,["{OLD_EMAIL}","{NEW_EMAIL}"])')
        except Exception as error:
            sentry_sdk.capture_exception(error)
        double = quote(quote(f"email={OLD_EMAIL}&phone={PHONE}"))
        sentry_sdk.capture_message(f"lookup failed for {double}")
    sentry_sdk.flush(timeout=10)
    text = envelopes.text()
    assert "httplib" in text and "/api/profiles" in text  # the breadcrumb is there
    for decoded in _every_decoding(text):
        for address in (OLD_EMAIL, NEW_EMAIL, PHONE):
            assert address.split("@")[0] not in decoded, f"{address} reached Sentry"


class _Headers(BaseHTTPRequestHandler):
    seen: list[dict[str, str]] = []

    def do_GET(self) -> None:
        self.seen.append({k.lower(): v for k, v in self.headers.items()})
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_calls_to_third_parties_carry_no_sentry_trace_headers(envelopes):
    """Issue 19 finding 9: Klaviyo and the CRM got our ``sentry-trace`` and ``baggage``."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Headers)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert init_sentry(_settings(envelopes.dsn), "worker")
        with sentry_sdk.start_transaction(name="outbound"):
            urllib.request.urlopen(f"http://127.0.0.1:{server.server_address[1]}/api/x",
                                   timeout=10).read()
            httpx.get(f"http://127.0.0.1:{server.server_address[1]}/crm", timeout=10)
    finally:
        server.shutdown()
        server.server_close()
    assert len(_Headers.seen) == 2
    for headers in _Headers.seen:
        assert "sentry-trace" not in headers and "baggage" not in headers, headers
