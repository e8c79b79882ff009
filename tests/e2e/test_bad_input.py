"""Every refusal of the webhook's contract table, from a real ``contact-sync web`` process
(tests/producers test the same app served in a thread): the status, the message naming what
is wrong, and nothing of a refused request stored."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import redis

from producers.signature import compute
from sandbox.inspect_client import SandboxClient
from shared import constants as keys
from shared.redis_server import EmbeddedRedis
from tests.e2e.pipeline import at
from tests.support.process_stack import ProcessStack, contact_event

URL_PATH = "/v1/contact-events"


def event(n: int, **contact: Any) -> dict[str, Any]:
    return contact_event("acme", f"C-{n}", at(n), event_id=f"evt-{n}",
                         email=f"c{n}@example.com", **contact)


def raw_post(stack: ProcessStack, body: bytes, header: str | None) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if header is not None:
        headers["X-Sync-Signature"] = header
    return stack.http.post(f"{stack.web_url}{URL_PATH}", content=body, headers=headers)


def signed(stack: ProcessStack, body: bytes, when: int | None = None) -> str:
    t = int(time.time()) if when is None else when
    return f"t={t},v1={compute(stack.secret, t, body)}"


def test_every_refusal_of_the_contract_table_names_the_problem_and_stores_nothing(
    process_stack: ProcessStack, r: redis.Redis,
) -> None:
    process_stack.start("web")
    stack = process_stack

    not_json = b'{"events": [oops'
    answer = raw_post(stack, not_json, signed(stack, not_json))
    assert answer.status_code == 400 and "not valid UTF-8 JSON" in answer.json()["detail"]

    body = orjson.dumps({"events": [event(1)]})
    answer = raw_post(stack, body, None)
    assert (answer.status_code, answer.json()["detail"]) == (
        401, "missing X-Sync-Signature header")
    answer = stack.post_events([event(1)], secret="not-the-secret")
    assert answer.status_code == 401 and "does not match" in answer.json()["detail"]
    assert stack.secret not in answer.text
    answer = raw_post(stack, body, signed(stack, body, int(time.time()) - 301))
    assert answer.status_code == 401 and answer.json()["detail"].startswith("stale")

    answer = stack.post_events([event(n) for n in range(1001)])
    assert answer.status_code == 413 and "at most 1000" in answer.json()["detail"]
    big = b'{"events": [], "pad": "' + b"x" * (5 * 1024 * 1024) + b'"}'
    answer = raw_post(stack, big, signed(stack, big))
    assert answer.status_code == 413 and "5 MB" in answer.json()["detail"]

    events = [event(0), event(1), event(2, marketing="maybe")]
    del events[1]["occurred_at"]
    answer = stack.post_events(events)
    assert answer.status_code == 422
    refusal = answer.json()
    assert "nothing of this request was stored" in refusal["detail"]
    found = {(e["index"], e["event_id"], e["field"]) for e in refusal["errors"]}
    assert found == {(1, "evt-1", "occurred_at"), (2, "evt-2", "contact.marketing")}
    assert all(e["message"] for e in refusal["errors"])

    assert r.xlen(keys.EVENTS_STREAM) == 0, "no refused request stored anything"
    assert stack.post_events([event(3)]).json() == {"accepted": 1}
    assert r.xlen(keys.EVENTS_STREAM) == 1


def test_redis_down_answers_503_with_retry_after_and_the_crm_retry_is_stored(
    sandbox: SandboxClient, tmp_path: Path,
) -> None:
    assert sandbox.key is not None
    with EmbeddedRedis() as private, \
            ProcessStack(private.url, sandbox.url, sandbox.key, tmp_path) as stack:
        stack.start("web")
        stack.configure_accounts("acme")
        private.kill()
        answer = stack.post_events([event(1)], configure=False)
        assert answer.status_code == 503
        assert int(answer.headers["Retry-After"]) > 0
        assert "unreachable" in answer.json()["detail"]
        assert stack.http.get(f"{stack.web_url}/readyz").status_code == 503
        assert stack.http.get(f"{stack.web_url}/healthz").status_code == 200

        private.start()
        assert stack.post_events([event(1)]).json() == {"accepted": 1}
        client = redis.Redis.from_url(private.url)
        assert client.xlen(keys.EVENTS_STREAM) == 1
        client.close()
