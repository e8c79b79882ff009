"""Answers that are not Klaviyo's usual JSON (docs/KLAVIYO.md §8-9): a CDN challenge (403,
``text/html``, ``cf-mitigated: challenge``) and 429s without ``Retry-After``."""

from __future__ import annotations

import httpx
import pytest
from klaviyo_api import KlaviyoAPI
from openapi_client.exceptions import ApiException, ForbiddenException

from sandbox.inspect_client import SandboxClient
from tests.sandbox.helpers import raw_headers


def test_a_cdn_challenge_is_a_403_html_page_with_cf_mitigated_challenge(
    klaviyo: KlaviyoAPI, sandbox: SandboxClient
) -> None:
    sandbox.set_faults("get_lists", status_403_html=1.0)
    with pytest.raises(ForbiddenException) as caught:
        klaviyo.Lists.get_lists()
    assert caught.value.status == 403
    assert caught.value.headers["cf-mitigated"] == "challenge"
    assert caught.value.headers["content-type"].startswith("text/html")
    assert (caught.value.body or "").startswith("<!DOCTYPE html>")
    answer = httpx.get(f"{sandbox.url}/api/lists", headers=raw_headers(sandbox.key))
    assert (answer.status_code, answer.headers["cf-mitigated"]) == (403, "challenge")
    assert "Just a moment..." in answer.text
    assert sandbox.calls(sandbox.key)["get_lists"] == {"403": 2}
    sandbox.clear_faults()
    assert klaviyo.Lists.get_lists().data == []


def test_a_throttle_without_retry_after_says_in_its_detail_when_to_come_back(
    sandbox: SandboxClient,
) -> None:
    sandbox.set_faults("get_lists", status_429=1.0, retry_after=3, omit_retry_after=1.0)
    answer = httpx.get(f"{sandbox.url}/api/lists", headers=raw_headers(sandbox.key))
    assert answer.status_code == 429
    assert "retry-after" not in answer.headers
    [error] = answer.json()["errors"]
    assert (error["code"], error["title"], error["detail"], error["source"]) == (
        "throttled",
        "Request was throttled.",
        "Request was throttled. Expected available in 3 seconds.",
        {"pointer": "/data/"},
    )
    assert sandbox.requests(key=sandbox.key)[-1]["retry_after"] == 0


def test_a_throttle_without_retry_after_or_a_known_wait_says_only_that_it_was_throttled(
    sandbox: SandboxClient,
) -> None:
    sandbox.set_faults("get_lists", status_429=1.0, retry_after=0, omit_retry_after=1.0)
    answer = httpx.get(f"{sandbox.url}/api/lists", headers=raw_headers(sandbox.key))
    assert "retry-after" not in answer.headers
    assert answer.json()["errors"][0]["detail"] == "Request was throttled."


def test_the_rate_limiters_429s_can_come_without_retry_after(sandbox: SandboxClient) -> None:
    sandbox.set_limits("on", scale=0.014)  # get_lists: 1 a second
    sandbox.set_faults("get_lists", omit_retry_after=1.0)
    answers = [
        httpx.get(f"{sandbox.url}/api/lists", headers=raw_headers(sandbox.key)) for _ in range(3)
    ]
    throttled = next(a for a in answers if a.status_code == 429)
    assert "retry-after" not in throttled.headers
    assert throttled.json()["errors"][0]["detail"].startswith(
        "Request was throttled. Expected available in "
    )


def test_the_sdk_sees_a_429_without_retry_after_after_its_own_backoff(
    sandbox: SandboxClient,
) -> None:
    sandbox.set_faults("get_lists", status_429=1.0, omit_retry_after=1.0)
    once = KlaviyoAPI(sandbox.key, max_delay=0.1, max_retries=1, test_host=sandbox.url)
    with pytest.raises(ApiException) as caught:
        once.Lists.get_lists()
    assert caught.value.status == 429
    assert "Retry-After" not in (caught.value.headers or {})


def test_fault_shares_must_lie_between_zero_and_one(sandbox: SandboxClient) -> None:
    with pytest.raises(RuntimeError, match="400"):
        sandbox.set_faults("get_lists", status_403_html=1.5)
    with pytest.raises(RuntimeError, match="400"):
        sandbox.set_faults("get_lists", omit_retry_after=-0.1)
