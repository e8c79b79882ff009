"""Klaviyo's OAuth token and revoke endpoints (docs/OAUTH.md).

``POST KLAVIYO_OAUTH_TOKEN_URL`` with the app in HTTP Basic auth
(``base64(client_id:client_secret)``) and a form body: ``grant_type=authorization_code``
(``code``, ``code_verifier``, ``redirect_uri``) or ``grant_type=refresh_token``
(``refresh_token``). Errors are RFC 6749's (``invalid_grant``, ``invalid_client``, ...):
:class:`OAuthRefused`; 5xx and transport failures: :class:`OAuthUnavailable`. Neither
message holds a token or the secret. The PKCE pair (S256, RFC 7636) is made here too.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Sequence
from typing import Any, Literal

import httpx

from shared.klaviyo.oauth_tokens import OAuthTokens
from shared.settings import Settings

TIMEOUT_S = 10.0


class OAuthNotConfigured(RuntimeError):
    """A setting OAuth needs is not set; :attr:`missing` names exactly which."""

    def __init__(self, missing: Sequence[str]) -> None:
        self.missing = tuple(missing)
        super().__init__(f"OAuth is not configured: set {' and '.join(self.missing)} "
                         "(docs/OAUTH.md)")


def require_oauth(settings: Settings, *, browser: bool = False) -> None:
    """:class:`OAuthNotConfigured` naming every missing setting: the app (client id and
    secret) for token calls, and for a browser's flow also ``SYNC_PUBLIC_URL`` (the
    redirect URI) and ``SYNC_SECRET_KEY`` (the stored verifier and tokens)."""
    needed = {"KLAVIYO_OAUTH_CLIENT_ID": settings.oauth_client_id,
              "KLAVIYO_OAUTH_CLIENT_SECRET": settings.oauth_client_secret}
    if browser:
        needed.update(SYNC_PUBLIC_URL=settings.public_url, SYNC_SECRET_KEY=settings.secret_key)
    missing = [name for name, value in needed.items() if not value]
    if missing:
        raise OAuthNotConfigured(missing)


class OAuthRefused(Exception):
    """The endpoint refused (RFC 6749 ``error``: ``invalid_grant``, ``invalid_client`` ...)."""

    def __init__(self, error: str, description: str, status: int) -> None:
        super().__init__(f"{status} {error}")
        self.error = error
        self.description = description[:300]
        self.status = status


class OAuthUnavailable(Exception):
    """The endpoint could not be reached or answered 5xx: try again later."""


def pkce_pair() -> tuple[str, str]:
    """A fresh PKCE ``(code_verifier, code_challenge)`` with the S256 method."""
    verifier = secrets.token_urlsafe(64)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _client(settings: Settings) -> tuple[str, str]:
    require_oauth(settings)
    assert settings.oauth_client_id and settings.oauth_client_secret is not None
    return settings.oauth_client_id, settings.oauth_client_secret.get_secret_value()


def _post(settings: Settings, which: Literal["token", "revoke"],
          form: dict[str, str]) -> httpx.Response:
    try:
        answer = httpx.post(settings.oauth_url(which), data=form, auth=_client(settings),
                            timeout=TIMEOUT_S, headers={"Accept": "application/json"})
    except httpx.HTTPError as error:
        raise OAuthUnavailable(f"Klaviyo's {which} endpoint: {type(error).__name__}") from None
    if answer.status_code >= 500:
        raise OAuthUnavailable(f"Klaviyo's {which} endpoint answered {answer.status_code}")
    if answer.status_code >= 400:
        body: Any
        try:
            body = answer.json()
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        raise OAuthRefused(str(body.get("error") or f"http_{answer.status_code}"),
                           str(body.get("error_description") or ""), answer.status_code)
    return answer


def _tokens(answer: httpx.Response, sent_at: float) -> OAuthTokens:
    try:
        return OAuthTokens.from_answer(answer.json(), sent_at)
    except (ValueError, KeyError, TypeError):
        raise OAuthUnavailable("Klaviyo's token endpoint answered without tokens") from None


def exchange_code(settings: Settings, code: str, verifier: str,
                  redirect_uri: str) -> OAuthTokens:
    """The tokens of an authorization code (PKCE verifier and redirect URI as sent)."""
    sent_at = time.time()
    return _tokens(_post(settings, "token", {
        "grant_type": "authorization_code", "code": code, "code_verifier": verifier,
        "redirect_uri": redirect_uri}), sent_at)


def refresh_tokens(settings: Settings, refresh_token: str) -> OAuthTokens:
    """New tokens for a refresh token (which Klaviyo may rotate: store the answer's)."""
    sent_at = time.time()
    return _tokens(_post(settings, "token", {
        "grant_type": "refresh_token", "refresh_token": refresh_token}), sent_at)


def revoke_token(settings: Settings, token: str, hint: str = "refresh_token") -> None:
    """Revoke the grant of ``token`` at Klaviyo (RFC 7009)."""
    _post(settings, "revoke", {"token": token, "token_type_hint": hint})
