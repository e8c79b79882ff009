"""Who may write to the webhook: constant-time comparison, secret rotation through a real
``web`` process, and replays (another body, or the same request again) against the real
web and collector processes.

The refusals of unsigned, wrongly signed, malformed and stale requests are in
tests/producers/test_webhook.py, and thousands of generated ones in
tests/producers/test_webhook_fuzz.py; this module adds what those do not show.
"""

from __future__ import annotations

import ast
import hmac
import inspect
import time
from typing import Any

import httpx
import orjson
import pytest
import redis

from producers import signature
from producers.signature import HEADER, SignatureError, compute, verify
from shared import constants as keys
from shared.events import MirroredContact
from shared.state.contact_mirror import decode_mirror
from tests.support.process_stack import ProcessStack, contact_event, wait_until

BODY = b'{"events": []}'
NOW = 1_800_000_000


class CompareSpy:
    """Counts the calls of ``hmac.compare_digest`` and passes them on."""

    def __init__(self) -> None:
        self.real = hmac.compare_digest
        self.pairs: list[tuple[bytes, bytes]] = []

    def __call__(self, a: Any, b: Any) -> bool:
        self.pairs.append((a, b))
        return self.real(a, b)


@pytest.mark.parametrize("matching", [0, 1, None], ids=["first-pair", "last-pair", "none"])
def test_every_secret_and_signature_pair_goes_through_hmac_compare_digest(
    monkeypatch: pytest.MonkeyPatch, matching: int | None,
) -> None:
    """A plain ``==`` (which stops at the first differing byte) or an early exit once one
    pair matched would leave pairs out of ``compare_digest``: the count would differ."""
    spy = CompareSpy()
    monkeypatch.setattr(hmac, "compare_digest", spy)  # the library, not the code under test
    secrets = ["current", "previous"]
    candidates = [compute("someone-else", NOW, BODY), compute("another", NOW, BODY)]
    if matching is not None:
        candidates[matching] = compute(secrets[matching], NOW, BODY)
    header = f"t={NOW}," + ",".join(f"v1={value}" for value in candidates)
    if matching is None:
        with pytest.raises(SignatureError, match="does not match"):
            verify(header, BODY, secrets, now=NOW)
    else:
        verify(header, BODY, secrets, now=NOW)
    assert len(spy.pairs) == len(secrets) * len(candidates)
    assert {b for _, b in spy.pairs} == {value.encode() for value in candidates}


def test_the_signature_module_never_compares_digests_with_eq() -> None:
    tree = ast.parse(inspect.getsource(signature))
    suspicious = [
        ast.unparse(node) for node in ast.walk(tree) if isinstance(node, ast.Compare)
        and any(isinstance(op, ast.Eq | ast.NotEq | ast.In | ast.NotIn) for op in node.ops)
        and any(isinstance(n, ast.Name) and n.id in {"expected", "candidate", "signatures"}
                for n in ast.walk(node))
    ]
    assert suspicious == []


def _post(url: str, body: bytes, header: str) -> httpx.Response:
    return httpx.post(f"{url}/v1/contact-events", content=body,
                      headers={HEADER: header, "Content-Type": "application/json"}, timeout=30)


def test_rotation_both_secrets_work_then_the_removed_one_is_refused(
    process_stack: ProcessStack, r: redis.Redis,
) -> None:
    old, new = "whsec-rotation-old-1f2e", "whsec-rotation-new-3d4c"
    process_stack.env["SYNC_WEBHOOK_SECRET"] = f"{new},{old}"
    process_stack.start("web")
    process_stack.configure_accounts("acme")
    body = orjson.dumps({"events": [contact_event("acme", "C-1", "2026-11-22T10:00:00Z")]})
    url = process_stack.web_url
    assert _post(url, body, signature.sign(old, body)).status_code == 202
    assert _post(url, body, signature.sign(new, body)).status_code == 202

    process_stack.env["SYNC_WEBHOOK_SECRET"] = new  # the old secret retired, web restarted
    process_stack.restart("web")
    refused = _post(url, body, signature.sign(old, body))
    assert refused.status_code == 401
    assert "does not match the body under any active secret" in refused.json()["detail"]
    assert old not in refused.text and new not in refused.text
    assert _post(url, body, signature.sign(new, body)).status_code == 202
    t = int(time.time())  # a CRM still signing with both during its own switch-over
    both = f"t={t},v1={compute(old, t, body)},v1={compute(new, t, body)}"
    assert _post(url, body, both).status_code == 202
    assert r.xlen(keys.EVENTS_STREAM) == 4


def test_replays_cannot_change_another_body_or_roll_a_contact_back(
    process_stack: ProcessStack, r: redis.Redis,
) -> None:
    """Within the 300 s window a captured request can be sent again: with another body it is
    refused; sent as it was, or an older captured one, it changes nothing (the newest
    ``occurred_at`` wins)."""
    process_stack.start("web")
    process_stack.start("collector")
    process_stack.configure_accounts("acme")
    url, secret = process_stack.web_url, process_stack.secret

    def request(at: str, name: str) -> tuple[bytes, str]:
        body = orjson.dumps({"events": [contact_event("acme", "C-7", at, first_name=name)]})
        return body, signature.sign(secret, body)

    older, newer = request("2026-11-22T09:00:00Z", "Old"), request("2026-11-22T10:00:00Z", "New")
    for body, header in (older, newer):
        assert _post(url, body, header).status_code == 202
    forged = newer[0].replace(b'"New"', b'"Evil"')
    answer = _post(url, forged, newer[1])
    assert answer.status_code == 401 and "does not match" in answer.json()["detail"]

    for body, header in (newer, older):  # exact replays: accepted, and harmless
        assert _post(url, body, header).status_code == 202

    def mirrored() -> MirroredContact | None:
        raw = r.get(keys.contact("acme", "C-7"))
        return decode_mirror("C-7", raw) if raw else None  # type: ignore[arg-type]

    wait_until(lambda: r.xlen(keys.EVENTS_STREAM) == 0, 30, "the collector to read all events")
    contact = mirrored()
    assert contact is not None and contact.contact.first_name == "New"
    assert "Evil" not in str(r.get(keys.contact("acme", "C-7")))
