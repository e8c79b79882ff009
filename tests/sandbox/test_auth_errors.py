"""Account errors like Klaviyo's (docs/KLAVIYO.md §7): no or malformed credentials are 401
``not_authenticated``, a wrong or revoked key 401 ``authentication_failed``, a key without the
scope 403 ``permission_denied``; each in the full error envelope of §2."""

from __future__ import annotations

import uuid

import httpx
import pytest
from klaviyo_api import KlaviyoAPI
from openapi_client.exceptions import ForbiddenException, UnauthorizedException

from sandbox.inspect_client import SandboxClient
from tests.sandbox.helpers import errors_of, profile_body, raw_headers

NOT_PROVIDED = "Authentication credentials were not provided."
INCORRECT = "Incorrect authentication credentials."
DENIED = "You do not have permission to perform this action."


def _error(answer: httpx.Response) -> dict[str, object]:
    assert answer.headers["content-type"] == "application/vnd.api+json"
    [error] = answer.json()["errors"]
    assert uuid.UUID(error.pop("id"))
    return dict(error)


def _envelope(status: int, code: str, text: str) -> dict[str, object]:
    return {"status": status, "code": code, "title": text, "detail": text,
            "source": {}, "links": {}, "meta": {}}


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Basic dXNlcjpwYXNz",
        "Klaviyo-API-Key",
        "sandbox-key",
        "Klaviyo-API-Key:sandbox-key",
    ],
)
def test_no_or_malformed_credentials_are_401_not_authenticated(
    sandbox: SandboxClient, authorization: str | None
) -> None:
    headers = raw_headers(None)
    if authorization is not None:
        headers["Authorization"] = authorization
    answer = httpx.get(f"{sandbox.url}/api/profiles", headers=headers)
    assert answer.status_code == 401
    assert _error(answer) == _envelope(401, "not_authenticated", NOT_PROVIDED)


@pytest.mark.parametrize("authorization", ["Klaviyo-API-Key no-such-key", "Bearer some-token"])
def test_a_wrong_key_or_an_unknown_token_is_401_authentication_failed(
    sandbox: SandboxClient, authorization: str
) -> None:
    headers = {**raw_headers(None), "Authorization": authorization}
    answer = httpx.get(f"{sandbox.url}/api/lists", headers=headers)
    assert answer.status_code == 401
    assert _error(answer) == _envelope(401, "authentication_failed", INCORRECT)


def test_the_sdk_with_a_wrong_key_gets_an_unauthorized_exception_saying_authentication_failed(
    sandbox: SandboxClient,
) -> None:
    wrong = KlaviyoAPI("no-such-key", max_delay=2, max_retries=3, test_host=sandbox.url)
    with pytest.raises(UnauthorizedException) as caught:
        wrong.Profiles.get_profiles()
    assert [(e["code"], e["title"]) for e in errors_of(caught.value)] == [
        ("authentication_failed", INCORRECT)
    ]


def test_a_revoked_key_is_401_authentication_failed_and_keeps_its_data_for_its_return(
    klaviyo: KlaviyoAPI, sandbox: SandboxClient
) -> None:
    pid = klaviyo.Profiles.create_profile(profile_body(email="kept@example.com")).data.id
    sandbox.set_key_state("revoked")
    with pytest.raises(UnauthorizedException) as caught:
        klaviyo.Profiles.get_profiles()
    assert errors_of(caught.value)[0]["code"] == "authentication_failed"
    assert sandbox.calls(sandbox.key)["get_profiles"] == {"401": 1}
    sandbox.set_key_state("ok")
    assert [p.id for p in klaviyo.Profiles.get_profiles().data] == [pid]


def test_a_key_without_the_scope_is_403_permission_denied(
    klaviyo: KlaviyoAPI, sandbox: SandboxClient
) -> None:
    sandbox.set_key_state("no_scope")
    with pytest.raises(ForbiddenException) as caught:
        klaviyo.Lists.get_lists()
    assert caught.value.status == 403
    answer = httpx.get(f"{sandbox.url}/api/lists", headers=raw_headers(sandbox.key))
    assert answer.status_code == 403
    assert _error(answer) == _envelope(403, "permission_denied", DENIED)
    assert [item["status"] for item in sandbox.requests(key=sandbox.key)] == [403, 403]


def test_a_reset_gives_every_key_back_its_start_up_state(
    klaviyo: KlaviyoAPI, sandbox: SandboxClient
) -> None:
    sandbox.set_key_state("revoked")
    sandbox.reset()
    assert klaviyo.Lists.get_lists().data == []


def test_the_state_of_an_unknown_key_is_a_404_and_an_unknown_state_a_400(
    sandbox: SandboxClient,
) -> None:
    with pytest.raises(RuntimeError, match="404"):
        sandbox.set_key_state("revoked", key="nobody")
    with pytest.raises(RuntimeError, match="400"):
        sandbox.set_key_state("sleepy")
