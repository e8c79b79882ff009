"""Fuzzing the webhook: over 10,000 generated requests, against a real Redis.

Most cases go through the ASGI app in-process (the same code uvicorn runs, minus the
socket); a few hundred more go over real HTTP to a real ``contact-sync web`` process.
Every answer must be one the contract allows (never a 5xx), every refusal must say what is
wrong (the field, the header, the limit), and a refused request must store nothing. Each
test prints how many cases it ran (``pytest -s``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import redis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from producers.signature import sign
from producers.webhook import EVENTS_PATH, create_app
from shared import constants as keys
from shared.settings import Settings
from tests.security.asgi import AsgiClient, asgi_client
from tests.security.fuzz_cases import KINDS, OLD_SECRET, SECRET, Case, check_answer
from tests.support.process_stack import ProcessStack

pytestmark = pytest.mark.xdist_group("webhook_fuzz")

IN_PROCESS = {"events": 3000, "raw": 3000, "signature": 3000, "nested": 400, "sized": 150}
"""Cases per kind through the ASGI app: 9,550."""
OVER_HTTP = 600
"""Cases of every kind, mixed, against a real ``contact-sync web`` process."""

Post = Callable[[Case], tuple[int, Any]]


def fuzz(post: Post, client: redis.Redis, cases: st.SearchStrategy[Case], count: int) -> int:
    """Send ``count`` generated cases through ``post``, checking each answer; returns how
    many were sent."""
    sent = 0

    @settings(max_examples=count, deadline=None, database=None,
              phases=[Phase.generate, Phase.shrink],
              suppress_health_check=list(HealthCheck))
    @given(case=cases)
    def run(case: Case) -> None:
        nonlocal sent
        before = int(client.xlen(keys.EVENTS_STREAM))  # type: ignore[arg-type]
        status, payload = post(case)
        sent += 1
        check_answer(case, status, payload, int(client.xlen(keys.EVENTS_STREAM)) - before)  # type: ignore[arg-type]

    run()
    return sent


def show(capsys: pytest.CaptureFixture[str], what: str, sent: int, began: float) -> None:
    with capsys.disabled():
        print(f"\nwebhook fuzz: {sent} {what} cases in {time.monotonic() - began:.1f} s")


@pytest.fixture
def app_client(redis_url: str, test_account: str) -> Iterator[AsgiClient]:
    app = create_app(Settings(REDIS_URL=redis_url, SYNC_WEBHOOK_SECRET=f"{SECRET},{OLD_SECRET}"),
                     tune_process_gc=False)
    with asgi_client(app) as client:
        yield client
    app.state.redis.close()


def in_process(client: AsgiClient) -> Post:
    def post(case: Case) -> tuple[int, Any]:
        reply = client.post(EVENTS_PATH, case.body, case.header())
        return reply.status, reply.json()
    return post


@pytest.mark.parametrize("kind", sorted(IN_PROCESS))
def test_generated_requests_get_an_allowed_answer_and_refusals_store_nothing(
    kind: str, app_client: AsgiClient, r: redis.Redis, capsys: pytest.CaptureFixture[str],
) -> None:
    began = time.monotonic()
    sent = fuzz(in_process(app_client), r, KINDS[kind](), IN_PROCESS[kind])
    show(capsys, f"in-process '{kind}'", sent, began)
    assert sent >= IN_PROCESS[kind] * 0.98, "hypothesis ran out of distinct cases"
    assert app_client.get("/readyz").status == 200


def test_a_body_streamed_past_5_mb_without_content_length_is_refused_with_413(
    app_client: AsgiClient, r: redis.Redis,
) -> None:
    body = b'{"events": [], "pad": "' + b"x" * (6 * 1024 * 1024) + b'"}'
    app_client.chunk = 256 * 1024
    reply = app_client.post(EVENTS_PATH, body, {"content-length": "",
                                                "x-sync-signature": sign(SECRET, body)})
    assert reply.status == 413 and "5 MB" in reply.json()["detail"]
    assert r.xlen(keys.EVENTS_STREAM) == 0


@pytest.mark.parametrize(("value", "field"), [
    (b"NaN", "contact.properties.score"), (b"Infinity", "contact.properties.score"),
    (b"-Infinity", "contact.properties.score"),
    (b"[1, {\"x\": NaN}]", "contact.properties.score[1].x"),
])
def test_nan_or_infinity_in_properties_is_refused_naming_the_field_not_stored_as_null(
    app_client: AsgiClient, r: redis.Redis, value: bytes, field: str,
) -> None:
    body = (b'{"events": [{"event_id": "e-1", "account_id": "acme", "type": "contact.upserted",'
            b' "occurred_at": "2026-11-22T10:00:00Z", "contact": {"id": "C-1", "properties":'
            b' {"score": ' + value + b"}}}]}")
    reply = app_client.post(EVENTS_PATH, body, Case("nan", body, frozenset()).header())
    assert reply.status == 422, reply.body
    [error] = reply.json()["errors"]
    assert (error["index"], error["field"]) == (0, field)
    assert "NaN and Infinity" in error["message"]
    assert r.xlen(keys.EVENTS_STREAM) == 0


def test_the_planned_fuzz_is_at_least_10000_cases() -> None:
    assert sum(IN_PROCESS.values()) + OVER_HTTP >= 10_000


def on_the_wire(headers: dict[str, str]) -> dict[bytes, bytes]:
    """Header values as an HTTP client can send them: latin-1 bytes, control characters
    replaced, no surrounding blanks (httpx refuses the rest before sending)."""
    return {name.encode(): bytes(c if 32 <= c < 127 or c >= 160 else 63
                        for c in value.encode("latin-1")).strip()
            for name, value in headers.items()}


def test_generated_requests_over_real_http_to_a_web_process(
    process_stack: ProcessStack, r: redis.Redis, test_account: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    process_stack.env["SYNC_WEBHOOK_SECRET"] = f"{SECRET},{OLD_SECRET}"
    process_stack.start("web")
    url = process_stack.web_url + EVENTS_PATH

    with httpx.Client(timeout=60) as http:
        def post(case: Case) -> tuple[int, Any]:
            answer = http.post(url, content=case.body, headers=on_the_wire(case.header()))
            return answer.status_code, answer.json()

        began = time.monotonic()
        mixed = st.one_of(*(make() for make in KINDS.values()))
        sent = fuzz(post, r, mixed, OVER_HTTP)
        show(capsys, "over-HTTP (mixed kinds)", sent, began)
        assert http.get(process_stack.web_url + "/readyz").status_code == 200
    assert sent >= OVER_HTTP * 0.98
    assert "Traceback" not in process_stack.output("web")
