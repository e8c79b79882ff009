"""Auth, accounts, paging, rate limits, faults and robustness, through the SDK and raw HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from klaviyo_api import KlaviyoAPI
from openapi_client.exceptions import BadRequestException, ServiceException, UnauthorizedException

from sandbox.app import ASGIApp, Message, Receive, Scope, Send
from sandbox.inspect_client import SandboxClient
from sandbox.server import SandboxServer
from tests.sandbox.helpers import import_body, profile_body, wait_complete

REVISION = "2026-10-15"


def _headers(key: str | None) -> dict[str, str]:
    headers = {"revision": REVISION, "content-type": "application/vnd.api+json"}
    if key:
        headers["Authorization"] = f"Klaviyo-API-Key {key}"
    return headers


def _load(klaviyo: KlaviyoAPI, n: int) -> set[str]:
    job = klaviyo.Profiles.bulk_import_profiles(
        import_body([{"email": f"page{i}@example.com"} for i in range(n)])
    )
    wait_complete(klaviyo, job.data.id)
    return {f"page{i}@example.com" for i in range(n)}


def _all_emails(klaviyo: KlaviyoAPI, page_size: int) -> tuple[list[str], int]:
    emails: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = klaviyo.Profiles.get_profiles(page_size=page_size, page_cursor=cursor)
        pages += 1
        emails += [p.attributes.email for p in page.data]
        if not page.links.next:
            return emails, pages
        cursor = page.links.next


def test_a_call_without_a_valid_key_is_401_in_klaviyos_error_format(sandbox: SandboxClient) -> None:
    with pytest.raises(UnauthorizedException):
        KlaviyoAPI("no-such-key", max_retries=1, test_host=sandbox.url).Profiles.get_profiles()
    answer = httpx.get(f"{sandbox.url}/api/profiles", headers=_headers(None))
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/vnd.api+json"
    assert answer.json()["errors"][0]["code"] == "not_authenticated"


def test_two_accounts_do_not_see_each_others_data(
    klaviyo: KlaviyoAPI, sandbox: SandboxClient
) -> None:
    other = KlaviyoAPI(sandbox.new_key("other"), max_delay=2, max_retries=3, test_host=sandbox.url)
    mine = klaviyo.Profiles.create_profile(profile_body(email="same@example.com")).data.id
    theirs = other.Profiles.create_profile(profile_body(email="same@example.com")).data.id
    assert mine != theirs
    assert [p.id for p in klaviyo.Profiles.get_profiles().data] == [mine]
    assert [p.id for p in other.Profiles.get_profiles().data] == [theirs]
    assert klaviyo.Lists.get_lists().data == []


def test_get_profiles_pages_with_the_sdks_cursor_handling_of_http_links(
    klaviyo: KlaviyoAPI,
) -> None:
    expected = _load(klaviyo, 45)
    emails, pages = _all_emails(klaviyo, 20)
    assert pages == 3
    assert sorted(emails) == sorted(expected)


@pytest.fixture
def https_links_sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(
        rate_limits="off", keys=("k",), public_url="https://a.sandbox.test", job_mode="instant"
    ) as server:
        yield server


def test_paging_also_works_with_https_links_the_sdk_cuts_the_cursor_from(
    https_links_sandbox: SandboxServer,
) -> None:
    klaviyo = KlaviyoAPI("k", max_delay=2, max_retries=3, test_host=https_links_sandbox.url)
    expected = _load(klaviyo, 25)
    first = klaviyo.Profiles.get_profiles(page_size=10)
    assert first.links.next.startswith("https://a.sandbox.test/api/profiles/?")
    emails, pages = _all_emails(klaviyo, 10)
    assert pages == 3
    assert sorted(emails) == sorted(expected)


def test_a_bad_cursor_is_a_400_invalid_cursor(klaviyo: KlaviyoAPI) -> None:
    with pytest.raises(BadRequestException) as caught:
        klaviyo.Profiles.get_profiles(page_cursor="not a cursor")
    assert json.loads(caught.value.body or "")["errors"][0]["detail"] == "Invalid cursor provided."


def test_a_throttled_call_is_waited_out_by_the_sdk_and_then_succeeds(
    klaviyo: KlaviyoAPI, sandbox: SandboxClient
) -> None:
    sandbox.set_limits("on", scale=0.014)  # create_profile: 1 a second, 10 a minute
    ids = [
        klaviyo.Profiles.create_profile(profile_body(email=f"t{i}@example.com")).data.id
        for i in range(3)
    ]
    assert len(set(ids)) == 3
    counts = sandbox.calls(sandbox.key)["create_profile"]
    assert counts["201"] == 3
    assert counts["429"] >= 1


def test_a_429_carries_an_integer_retry_after_and_other_answers_carry_ratelimit_headers(
    sandbox: SandboxClient,
) -> None:
    sandbox.set_limits("on", scale=0.014)
    answers = [
        httpx.get(f"{sandbox.url}/api/lists", headers=_headers(sandbox.key)) for _ in range(3)
    ]
    ok = next(a for a in answers if a.status_code == 200)
    assert {"ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"} <= set(ok.headers)
    throttled = next(a for a in answers if a.status_code == 429)
    assert throttled.headers["retry-after"].isdigit()
    assert throttled.json()["errors"][0]["code"] == "throttled"
    assert "ratelimit-limit" not in throttled.headers


def test_injected_faults_are_answered_and_counted_per_operation(
    klaviyo: KlaviyoAPI, sandbox: SandboxClient
) -> None:
    sandbox.set_faults("get_profiles", status_500=1.0)
    with pytest.raises(ServiceException):
        klaviyo.Profiles.get_profiles()
    sandbox.set_faults("get_lists", status_429=1.0, retry_after=0)
    with pytest.raises(Exception):  # noqa: B017 -- the SDK gives up after its attempts
        KlaviyoAPI(
            sandbox.key, max_delay=0.1, max_retries=1, test_host=sandbox.url
        ).Lists.get_lists()
    calls = sandbox.calls(sandbox.key)
    assert calls["get_profiles"] == {"500": 1}
    assert calls["get_lists"]["429"] >= 1
    sandbox.clear_faults()
    assert klaviyo.Profiles.get_profiles().data == []


def test_a_dropped_connection_gets_no_answer_and_the_server_keeps_serving(
    klaviyo: KlaviyoAPI, sandbox: SandboxClient
) -> None:
    sandbox.set_faults("get_lists", drop=1.0)
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{sandbox.url}/api/lists", headers=_headers(sandbox.key))
    assert sandbox.calls(sandbox.key)["get_lists"] == {"0": 1}
    sandbox.clear_faults()
    assert klaviyo.Lists.get_lists().data == []


@pytest.mark.parametrize(
    "body", [b"\xff\xfe garbage", b"[1, 2]", b'{"data": "x"}', b'{"data": {"type": "list"}}', b""]
)
def test_bad_bodies_get_a_400_in_klaviyos_envelope_never_a_crash(
    sandbox: SandboxClient, body: bytes
) -> None:
    answer = httpx.post(f"{sandbox.url}/api/profiles", content=body, headers=_headers(sandbox.key))
    assert answer.status_code == 400
    error = answer.json()["errors"][0]
    assert error["code"] == "invalid"
    assert error["source"]["pointer"].startswith("/data")


def test_a_missing_revision_header_is_a_400_naming_it(sandbox: SandboxClient) -> None:
    answer = httpx.get(
        f"{sandbox.url}/api/profiles", headers={"Authorization": f"Klaviyo-API-Key {sandbox.key}"}
    )
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["source"] == {"parameter": "revision"}


def test_unknown_paths_are_a_404_and_wrong_methods_a_405(sandbox: SandboxClient) -> None:
    assert (
        httpx.get(f"{sandbox.url}/api/nothing-here", headers=_headers(sandbox.key)).status_code
        == 404
    )
    assert (
        httpx.put(f"{sandbox.url}/api/profiles", headers=_headers(sandbox.key)).status_code == 405
    )


def test_middleware_wraps_the_app_and_a_drop_still_closes_the_connection() -> None:
    seen: list[str] = []

    def recorder(app: ASGIApp) -> ASGIApp:
        async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":
                seen.append(f"{scope['method']} {scope['path']}")

            async def relay(message: Message) -> None:  # hides uvicorn's own send
                await send(message)

            await app(scope, receive, relay)

        return wrapped

    with SandboxServer(rate_limits="off", keys=("k",), middleware=[recorder]) as server:
        klaviyo = KlaviyoAPI("k", max_delay=2, max_retries=3, test_host=server.url)
        assert klaviyo.Lists.get_lists().data == []
        assert seen == ["GET /api/lists"]
        with SandboxClient(server.url, "k") as client:
            client.set_faults("get_lists", drop=1.0)
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{server.url}/api/lists", headers=_headers("k"))
