"""The sandbox's OAuth server, as Klaviyo's (docs/OAUTH.md): authorize with a
consent page, the token endpoint (client in Basic auth, form body, PKCE S256, refresh
tokens that rotate), revocation, and Bearer tokens on the API refused once expired or
revoked the way Klaviyo refuses a wrong key."""

from __future__ import annotations

import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from klaviyo_api import KlaviyoAPI
from openapi_client.exceptions import UnauthorizedException

from sandbox.inspect_client import SandboxClient
from sandbox.oauth_grants import s256
from tests.support.oauth import OAUTH_REDIRECT_URIS

CLIENT = ("sandbox-client", "sandbox-secret")
REDIRECT = OAUTH_REDIRECT_URIS[0]
"""Registered for the tests' sandbox app (tests/conftest.py)."""


def _authorize_url(sandbox: SandboxClient, verifier: str, state: str = "st-1") -> str:
    return f"{sandbox.url}/oauth/authorize?" + urlencode({
        "response_type": "code", "client_id": CLIENT[0], "redirect_uri": REDIRECT,
        "scope": "profiles:read profiles:write lists:read lists:write", "state": state,
        "code_challenge": s256(verifier), "code_challenge_method": "S256"})


def _query(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def _token(sandbox: SandboxClient, form: dict[str, str],
           auth: tuple[str, str] = CLIENT) -> httpx.Response:
    return httpx.post(f"{sandbox.url}/oauth/token", data=form, auth=auth)


def _connect(sandbox: SandboxClient) -> dict[str, object]:
    verifier = secrets.token_urlsafe(48)
    code = _query(sandbox.consent(_authorize_url(sandbox, verifier)))["code"]
    answer = _token(sandbox, {"grant_type": "authorization_code", "code": code,
                              "code_verifier": verifier, "redirect_uri": REDIRECT})
    assert answer.status_code == 200, answer.text
    tokens: dict[str, object] = answer.json()
    return tokens


def _sdk(sandbox: SandboxClient, access_token: object) -> KlaviyoAPI:
    return KlaviyoAPI(None, max_retries=1, test_host=sandbox.url,  # type: ignore[arg-type]
                      access_token=str(access_token))


def _refused_code(sdk: KlaviyoAPI) -> str:
    with pytest.raises(UnauthorizedException) as refused:
        sdk.Profiles.get_profiles()
    code: str = httpx.Response(401, content=refused.value.body).json()["errors"][0]["code"]
    return code


def test_an_approved_consent_gives_tokens_the_sdk_calls_the_api_with(
        sandbox: SandboxClient) -> None:
    tokens = _connect(sandbox)
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 3600
    assert "lists:write" in str(tokens["scope"])
    sdk = _sdk(sandbox, tokens["access_token"])
    sdk.Profiles.create_profile({"data": {"type": "profile",
                                          "attributes": {"email": "ada@example.com"}}})
    assert sandbox.profile_by_email("ada@example.com") is not None
    assert sandbox.calls()["create_profile"] == {"201": 1}
    assert sandbox.oauth()["counts"]["authorization_code"] == 1


def test_a_denied_consent_redirects_with_access_denied_and_the_state(
        sandbox: SandboxClient) -> None:
    location = sandbox.consent(_authorize_url(sandbox, "v" * 43, state="xyz"), allow=False)
    assert location.startswith(REDIRECT)
    assert _query(location)["error"] == "access_denied"
    assert _query(location)["state"] == "xyz"


def test_an_authorize_request_without_pkce_s256_is_refused_on_the_page(
        sandbox: SandboxClient) -> None:
    url = _authorize_url(sandbox, "v" * 43).replace("S256", "plain")
    page = httpx.get(url)
    assert page.status_code == 400 and "code_challenge_method=S256" in page.text


def test_a_code_needs_its_verifier_and_works_once(sandbox: SandboxClient) -> None:
    verifier = secrets.token_urlsafe(48)
    code = _query(sandbox.consent(_authorize_url(sandbox, verifier)))["code"]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    wrong = _token(sandbox, {**form, "code_verifier": "not-the-verifier"})
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    code = _query(sandbox.consent(_authorize_url(sandbox, verifier)))["code"]
    form["code"] = code
    assert _token(sandbox, {**form, "code_verifier": verifier}).status_code == 200
    again = _token(sandbox, {**form, "code_verifier": verifier})
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_a_wrong_client_secret_is_401_invalid_client(sandbox: SandboxClient) -> None:
    answer = _token(sandbox, {"grant_type": "refresh_token", "refresh_token": "x"},
                    auth=(CLIENT[0], "wrong"))
    assert answer.status_code == 401 and answer.json()["error"] == "invalid_client"


def test_an_expired_access_token_is_401_authentication_failed_and_a_refresh_rotates(
        sandbox: SandboxClient) -> None:
    tokens = _connect(sandbox)
    assert sandbox.expire_access_tokens() == 1
    assert _refused_code(_sdk(sandbox, tokens["access_token"])) == "authentication_failed"
    fresh = _token(sandbox, {"grant_type": "refresh_token",
                             "refresh_token": str(tokens["refresh_token"])}).json()
    assert fresh["refresh_token"] != tokens["refresh_token"]
    _sdk(sandbox, fresh["access_token"]).Profiles.get_profiles()
    assert sandbox.oauth()["counts"]["refresh_token"] == 1


def test_reusing_a_rotated_refresh_token_revokes_the_grant(sandbox: SandboxClient) -> None:
    tokens = _connect(sandbox)
    old = {"grant_type": "refresh_token", "refresh_token": str(tokens["refresh_token"])}
    fresh = _token(sandbox, old).json()
    reused = _token(sandbox, old)
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    assert _refused_code(_sdk(sandbox, fresh["access_token"])) == "authentication_failed"
    assert _token(sandbox, {"grant_type": "refresh_token",
                            "refresh_token": fresh["refresh_token"]}).status_code == 400


def test_revoking_a_token_or_uninstalling_the_app_refuses_the_grant(
        sandbox: SandboxClient) -> None:
    first = _connect(sandbox)
    revoked = httpx.post(f"{sandbox.url}/oauth/revoke", auth=CLIENT,
                         data={"token": first["refresh_token"],
                               "token_type_hint": "refresh_token"})
    assert revoked.status_code == 200
    assert _refused_code(_sdk(sandbox, first["access_token"])) == "authentication_failed"
    second = _connect(sandbox)
    assert sandbox.uninstall_app() == 1
    refresh = _token(sandbox, {"grant_type": "refresh_token",
                               "refresh_token": str(second["refresh_token"])})
    assert refresh.json()["error"] == "invalid_grant"


def test_access_tokens_live_as_long_as_configured(sandbox: SandboxClient) -> None:
    sandbox.set_access_token_ttl(2)
    assert _connect(sandbox)["expires_in"] == 2
    sandbox.reset()
    assert sandbox.oauth()["access_token_ttl_s"] == 3600


def test_an_authorize_request_must_name_a_registered_redirect_uri(
        sandbox: SandboxClient) -> None:
    """As Klaviyo: a redirect URI that is not the app's is refused on the page, with no
    redirect to it."""
    url = _authorize_url(sandbox, "v" * 43).replace(
        "redirect_uri=http", "redirect_uri=https%3A%2F%2Fevil.example%2Fcb%3Fx%3Dhttp")
    page = httpx.get(url)
    assert page.status_code == 400 and "registered redirect URIs" in page.text
    assert "location" not in page.headers
    described = httpx.put(f"{sandbox.url}/__sandbox/oauth",
                          json={"redirect_uris": ["https://evil.example/cb"]})
    assert described.json()["redirect_uris"] == ["https://evil.example/cb"]
    assert httpx.get(_authorize_url(sandbox, "v" * 43)).status_code == 400  # no longer ours


def test_the_consent_page_lists_no_account_and_signs_in_with_the_key(
        sandbox: SandboxClient) -> None:
    other = sandbox.new_key()
    page = httpx.get(_authorize_url(sandbox, "v" * 43))
    assert page.status_code == 200
    assert sandbox.key not in page.text and other not in page.text
    assert "sandbox-key" not in page.text
    request_id = page.text.split('name="request" value="', 1)[1].split('"', 1)[0]
    wrong = httpx.post(f"{sandbox.url}/oauth/authorize", data={
        "request": request_id, "account": "not-a-key", "decision": "allow"})
    assert wrong.status_code == 400 and "location" not in wrong.headers
