"""The bulk import POST without the SDK's model validation: the same body on the wire, the
same answers and errors, through the gateway."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest
import redis
from openapi_client.models.profile_import_job_create_query import ProfileImportJobCreateQuery

from shared.klaviyo.bulk_body import bulk_import
from shared.klaviyo.bulk_body import job_body as build_body
from shared.klaviyo.client import build_client
from shared.klaviyo.errors import RateLimited, Rejected
from shared.klaviyo.gateway import Gateway


def job_body(*emails: str, list_id: str = "") -> dict[str, Any]:
    return build_body([{"type": "profile", "attributes": {
        "email": email, "first_name": "Ann", "organization": "Acme",
        "properties": {"tier": 2, "nested": {"none": None, "list": [1, None]}}}}
        for email in emails], list_id)


def test_the_unvalidated_body_is_the_one_the_sdks_models_would_have_sent() -> None:
    api = build_client("any-key", "http://127.0.0.1:9")
    body = job_body("ann@example.com", "bob@example.com", list_id="Y6nRLr")
    through_models = api.api_client.sanitize_for_serialization(
        ProfileImportJobCreateQuery.model_validate(body))
    assert through_models == body


def test_a_job_posted_unvalidated_is_accepted_and_imports_its_profiles(
        r: redis.Redis, sandbox: Any) -> None:
    api = build_client(sandbox.key, sandbox.url)
    sandbox.set_jobs("instant")
    answer: Any = Gateway(r, "acct").call(
        "bulk_import_profiles", bulk_import(api), job_body("ann@example.com", "bob@example.com"))
    assert answer["data"]["type"] == "profile-bulk-import-job"
    assert answer["data"]["attributes"]["total_count"] == 2
    emails = {p["email"] for p in sandbox.profiles(sandbox.key)}
    assert emails == {"ann@example.com", "bob@example.com"}


def test_an_unvalidated_job_klaviyo_refuses_is_a_rejection_naming_the_row(
        r: redis.Redis, sandbox: Any) -> None:
    api = build_client(sandbox.key, sandbox.url)
    with pytest.raises(Rejected) as caught:
        Gateway(r, "acct").call("bulk_import_profiles", bulk_import(api),
                                job_body("ann@example.com", "not-an-email"))
    assert caught.value.status == 400
    assert [e.pointer for e in caught.value.errors] == [
        "/data/attributes/profiles/data/1/attributes/email"]


def test_an_unvalidated_job_still_waits_for_the_rate_limiter(
        r: redis.Redis, sandbox: Any) -> None:
    api = build_client(sandbox.key, sandbox.url)
    sandbox.set_faults("bulk_import_profiles", status_429=1.0, retry_after=2)
    gateway = Gateway(r, "acct")
    with pytest.raises(RateLimited):
        gateway.call("bulk_import_profiles", bulk_import(api), job_body("ann@example.com"))
    with pytest.raises(RateLimited) as again:
        gateway.call("bulk_import_profiles", bulk_import(api), job_body("ann@example.com"))
    assert not again.value.by_klaviyo
    assert sum(sandbox.calls(sandbox.key)["bulk_import_profiles"].values()) == 1


def test_a_ready_body_reaches_the_wire_as_the_sdk_would_have_sanitized_it(
        r: redis.Redis, sandbox: Any) -> None:
    api = build_client(sandbox.key, sandbox.url)
    sandbox.set_jobs("instant")
    body = job_body("ann@example.com", list_id="")
    assert api.api_client.sanitize_for_serialization(dict(body)) == body
    Gateway(r, "acct").call("bulk_import_profiles", bulk_import(api), body)
    profile = next(p for p in sandbox.profiles() if p["email"] == "ann@example.com")
    assert profile["first_name"] == "Ann" and profile["properties"]["tier"] == 2


def test_a_ready_body_goes_out_as_compact_utf8_json_with_the_sdks_headers() -> None:
    """Compact, as the chunks are cut by (workers/push/plan/chunking.py counts orjson's
    bytes against Klaviyo's size limit), and not ASCII-escaped: the stdlib's json.dumps
    would send more."""
    seen: dict[str, Any] = {}

    class Capture(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            seen["body"] = self.rfile.read(int(self.headers["Content-Length"]))
            seen["headers"] = dict(self.headers)
            answer = b'{"data": {"type": "profile-bulk-import-job", "id": "j1"}}'
            self.send_response(202)
            self.send_header("Content-Type", "application/vnd.api+json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Capture)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        api = build_client("pk-any", f"http://127.0.0.1:{server.server_address[1]}")
        body = build_body([{"type": "profile", "attributes": {
            "email": "zoe@example.com", "first_name": "Zoë", "properties": {"tier": 2}}}],
            "Y6nRLr")
        answer: Any = bulk_import(api)(body)
    finally:
        server.shutdown()
    assert answer["data"]["id"] == "j1"
    assert seen["body"] == orjson.dumps(body)  # compact; "Zoë" as UTF-8, not \u00eb
    assert "Zoë".encode() in seen["body"]
    assert "json" in seen["headers"]["Content-Type"]
    assert seen["headers"]["Authorization"] == "Klaviyo-API-Key pk-any"
    assert seen["headers"]["revision"]
