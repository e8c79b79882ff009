"""The OpenAPI contract layer itself, driven with real ASGI calls on a tiny fixed app."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from tests.support.fixtures import MISSING, require_slices
from tests.support.openapi_contract import (
    ContractViolations,
    Message,
    OpenAPIContract,
    OpenAPIContractMiddleware,
    Receive,
    Scope,
    Send,
    slices_dir,
    slices_present,
)

SDK_HEADERS = [(b"user-agent", b"klaviyo-api-python/25.0.0"), (b"revision", b"2026-10-15")]
PROFILE_ID = "01GDDKASAP8TKDDA2GRZDSVP4H"


def _profile(with_self_link: bool = True) -> dict[str, Any]:
    links = {"self": f"https://a.klaviyo.com/api/profiles/{PROFILE_ID}/"} if with_self_link else {}
    return {
        "data": {
            "type": "profile",
            "id": PROFILE_ID,
            "attributes": {"email": "a@example.com", "phone_number": None},
            "links": links,
        },
        "links": {"self": "https://a.klaviyo.com/api/profiles/"},
    }


def _fixed_app(status: int, body: dict[str, Any] | None) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        while (await receive()).get("more_body"):
            pass
        payload = b"" if body is None else json.dumps(body).encode()
        headers = [(b"content-type", b"application/vnd.api+json")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    return app


def _call(
    answer_status: int,
    answer: dict[str, Any] | None,
    method: str,
    path: str,
    request: dict[str, Any] | None = None,
    query: bytes = b"",
    headers: list[tuple[bytes, bytes]] = SDK_HEADERS,
) -> list[str]:
    require_slices()
    violations = ContractViolations()
    layer = OpenAPIContractMiddleware(_fixed_app(answer_status, answer), _contract(), violations)
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": query,
        "headers": headers,
    }
    body = b"" if request is None else json.dumps(request).encode()
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(layer(scope, receive, send))
    assert sent[0]["status"] == answer_status  # passed through unchanged
    return [str(v) for v in violations.drain()]


_CACHE: dict[str, OpenAPIContract] = {}


def _contract() -> OpenAPIContract:
    if "c" not in _CACHE:
        _CACHE["c"] = OpenAPIContract()
    return _CACHE["c"]


def test_klaviyos_openapi_slices_ship_with_the_tests() -> None:
    assert slices_present(), MISSING.format(path=slices_dir())
    assert len(_contract().operations) >= 50


def test_a_valid_get_profile_exchange_passes() -> None:
    assert _call(200, _profile(), "GET", f"/api/profiles/{PROFILE_ID}") == []


def test_klaviyos_trailing_slash_form_finds_the_same_operation() -> None:
    assert _call(200, _profile(), "GET", f"/api/profiles/{PROFILE_ID}/") == []


def test_a_profile_answer_missing_its_self_link_is_reported() -> None:
    found = _call(200, _profile(with_self_link=False), "GET", f"/api/profiles/{PROFILE_ID}")
    assert found == [
        "get_profile response: status 200 body /data/links: 'self' is a required property"
    ]


def test_create_profile_answered_200_instead_of_201_is_reported() -> None:
    request = {"data": {"type": "profile", "attributes": {"email": "a@example.com"}}}
    found = _call(200, _profile(), "POST", "/api/profiles", request)
    assert found == [
        "create_profile response: status 200 is not declared (declared: 201, 4XX, 5XX)"
    ]
    assert _call(201, _profile(), "POST", "/api/profiles", request) == []


def test_a_request_body_of_the_wrong_type_is_reported() -> None:
    request = {"data": {"type": "list", "attributes": {"email": "a@example.com"}}}
    found = _call(201, _profile(), "POST", "/api/profiles", request)
    assert len(found) == 1 and found[0].startswith("create_profile request: body /data/type")


def test_a_request_without_the_revision_header_is_reported() -> None:
    headers = [(b"user-agent", b"klaviyo-api-python/25.0.0")]
    found = _call(200, _profile(), "GET", f"/api/profiles/{PROFILE_ID}", headers=headers)
    assert found == ["get_profile request: header parameter 'revision' is required"]


def test_a_page_size_over_the_maximum_is_reported() -> None:
    answer = {"data": [], "links": {"self": "https://a.klaviyo.com/api/lists/"}}
    found = _call(200, answer, "GET", "/api/lists", query=b"page%5Bsize%5D=11")
    assert found == ["get_lists request: parameter 'page[size]'=11 outside [1, 10]"]


def test_an_error_answer_without_a_code_is_reported() -> None:
    answer = {"errors": [{"id": "x", "title": "Not found.", "detail": "No profile."}]}
    found = _call(404, answer, "GET", f"/api/profiles/{PROFILE_ID}")
    assert found == [
        "get_profile response: status 404 body /errors/0: 'code' is a required property"
    ]


def test_a_body_on_a_bodyless_202_is_reported() -> None:
    request = {"data": {"type": "profile-subscription-bulk-create-job", "attributes": {}}}
    found = _call(202, {"data": {}}, "POST", "/api/profile-subscription-bulk-create-jobs", request)
    assert any("has no body in the spec" in item for item in found)


def test_a_2xx_on_a_path_outside_the_spec_is_reported_and_a_404_is_not() -> None:
    assert _call(404, None, "GET", "/api/nothing-here") == []
    found = _call(200, {}, "GET", "/api/nothing-here")
    assert found == ["GET /api/nothing-here response: not an operation of the slices, answered 200"]


def _html_call(extra_headers: list[tuple[bytes, bytes]]) -> list[str]:
    require_slices()
    violations = ContractViolations()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        headers = [(b"content-type", b"text/html; charset=UTF-8"), *extra_headers]
        await send({"type": "http.response.start", "status": 403, "headers": headers})
        await send({"type": "http.response.body", "body": b"<!DOCTYPE html><html></html>"})

    layer = OpenAPIContractMiddleware(app, _contract(), violations)
    scope = {"type": "http", "method": "GET", "path": "/api/lists", "query_string": b"",
             "headers": SDK_HEADERS}

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        pass

    asyncio.run(layer(scope, receive, send))
    return [str(v) for v in violations.drain()]


def test_a_cdn_challenge_in_html_is_let_through_and_other_html_is_reported() -> None:
    assert _html_call([(b"cf-mitigated", b"challenge")]) == []
    assert _html_call([]) == [
        "get_lists response: content-type 'text/html; charset=UTF-8' is not JSON:API"
    ]
