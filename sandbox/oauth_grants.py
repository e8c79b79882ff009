"""What the sandbox's OAuth server holds: apps, consent requests, codes, grants and tokens.

One *grant* is one installation of an app in one Klaviyo account (the account of a key).
An authorize request must name one of the app's registered redirect URIs exactly.
Authorization codes are single-use and live 10 minutes; a code is bound to its client,
redirect URI and PKCE challenge (S256 only, as Klaviyo asks). Access tokens live
``access_token_ttl_s`` (3600 s as in Klaviyo; seconds in tests). Every refresh rotates the
refresh token; presenting a refresh token that was already rotated away is taken as theft
(RFC 9700 §4.14.2): the whole grant is revoked, so a client that refreshes twice in a race
loses its connection, as it may with a strict server. Nothing here knows of the sync.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass, field

CODE_TTL_S = 600.0
DEFAULT_CLIENTS = {"sandbox-client": "sandbox-secret"}
"""The app every sandbox knows (client id -> client secret)."""
DEFAULT_REDIRECT_URIS = ("http://localhost:8000/v1/oauth/klaviyo/callback",
                         "http://127.0.0.1:8000/v1/oauth/klaviyo/callback")
"""The redirect URIs registered for the sandbox's apps: a contact-sync ``web`` on its
default port (``--oauth-redirect-uri`` or ``PUT /__sandbox/oauth`` registers others)."""


class OAuthRefusal(Exception):
    """An RFC 6749 error answer: ``error`` code, description, HTTP status."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


@dataclass
class ConsentRequest:
    """An authorize request waiting for the user's answer on the consent page."""

    client_id: str
    redirect_uri: str
    scope: str
    state: str
    code_challenge: str


@dataclass
class Code:
    client_id: str
    redirect_uri: str
    code_challenge: str
    account_key: str
    scope: str
    expires_at: float


@dataclass
class Grant:
    """One installation of an app in the account of ``account_key``."""

    id: str
    client_id: str
    account_key: str
    scope: str
    refresh_token: str
    rotated: set[str] = field(default_factory=set)
    revoked: bool = False


@dataclass(frozen=True)
class AccessToken:
    grant_id: str
    expires_at: float


@dataclass
class Counts:
    """What the OAuth server did, for tests: codes exchanged, refreshes, refusals, revokes."""

    authorization_code: int = 0
    refresh_token: int = 0
    refused: int = 0
    revoked: int = 0


def s256(verifier: str) -> str:
    """The PKCE S256 challenge of a verifier (RFC 7636 §4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class OAuthServer:
    """The in-memory OAuth state of one sandbox (one event loop: no locks)."""

    def __init__(self, clients: dict[str, str], access_token_ttl_s: float,
                 redirect_uris: tuple[str, ...] = DEFAULT_REDIRECT_URIS) -> None:
        self.clients = dict(clients)
        self.access_token_ttl_s = access_token_ttl_s
        self.redirect_uris = tuple(redirect_uris)
        """The redirect URIs registered for the apps: an authorize request names one of
        them exactly, or is refused (as Klaviyo does)."""
        self.reset()

    def reset(self) -> None:
        """Forget every request, code, grant and token (the apps stay)."""
        self.requests: dict[str, ConsentRequest] = {}
        self.codes: dict[str, Code] = {}
        self.grants: dict[str, Grant] = {}
        self.by_refresh: dict[str, str] = {}
        self.tokens: dict[str, AccessToken] = {}
        self.counts = Counts()

    # --- the authorize step --------------------------------------------------------------
    def ask_consent(self, query: dict[str, str]) -> str:
        """Check an authorize request; the id of the consent request shown to the user."""
        client_id = query.get("client_id", "")
        if client_id not in self.clients:
            raise OAuthRefusal("invalid_client", "Unknown client_id.")
        redirect_uri = query.get("redirect_uri", "")
        if redirect_uri not in self.redirect_uris:
            raise OAuthRefusal("invalid_request", "redirect_uri is not one of the app's "
                                                  "registered redirect URIs.")
        if query.get("response_type") != "code":
            raise OAuthRefusal("unsupported_response_type", "response_type must be 'code'.")
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            raise OAuthRefusal("invalid_request", "PKCE with code_challenge_method=S256 is "
                                                  "required.")
        if not query.get("scope", "").strip():
            raise OAuthRefusal("invalid_scope", "scope is required.")
        request_id = secrets.token_urlsafe(12)
        self.requests[request_id] = ConsentRequest(
            client_id, redirect_uri, query["scope"].strip(), query.get("state", ""),
            query["code_challenge"])
        return request_id

    def answer_consent(self, request_id: str, account_key: str | None,
                       approve: bool) -> tuple[ConsentRequest, str | None]:
        """The user's answer: the request and a new code (``None`` when denied)."""
        request = self.requests.pop(request_id, None)
        if request is None:
            raise OAuthRefusal("invalid_request", "Unknown or answered consent request.")
        if not approve or account_key is None:
            return request, None
        code = secrets.token_urlsafe(24)
        self.codes[code] = Code(request.client_id, request.redirect_uri,
                                request.code_challenge, account_key, request.scope,
                                time.time() + CODE_TTL_S)
        return request, code

    # --- the token endpoint --------------------------------------------------------------
    def client(self, client_id: str | None, secret: str | None) -> str:
        """The authenticated client id, or 401 ``invalid_client``."""
        known = self.clients.get(client_id or "")
        if known is None or secret is None or not secrets.compare_digest(known, secret):
            self.counts.refused += 1
            raise OAuthRefusal("invalid_client", "Client authentication failed.", 401)
        return client_id or ""

    def exchange(self, client_id: str, form: dict[str, str]) -> dict[str, object]:
        """``grant_type=authorization_code``: the code (single use) for a new grant."""
        code = self.codes.pop(form.get("code", ""), None)
        if code is None or code.client_id != client_id or code.expires_at < time.time():
            return self._refuse("The authorization code is invalid, used or expired.")
        if form.get("redirect_uri") != code.redirect_uri:
            return self._refuse("redirect_uri does not match the authorize request.")
        if s256(form.get("code_verifier", "")) != code.code_challenge:
            return self._refuse("The code_verifier does not match the code_challenge.")
        grant = Grant(secrets.token_hex(8), client_id, code.account_key, code.scope, "")
        self.grants[grant.id] = grant
        self.counts.authorization_code += 1
        return self._issue(grant)

    def refresh(self, client_id: str, form: dict[str, str]) -> dict[str, object]:
        """``grant_type=refresh_token``: new tokens, the refresh token rotated."""
        presented = form.get("refresh_token", "")
        grant = self.grants.get(self.by_refresh.get(presented, ""))
        if grant is None or grant.client_id != client_id or grant.revoked:
            return self._refuse("The refresh token is invalid or revoked.")
        if presented in grant.rotated:  # reuse of a rotated token: the grant is revoked
            self._revoke(grant)
            return self._refuse("The refresh token was already used; the grant is revoked.")
        grant.rotated.add(presented)
        self.counts.refresh_token += 1
        return self._issue(grant)

    def revoke(self, client_id: str, token: str) -> None:
        """RFC 7009: revoke the grant of an access or refresh token (unknown: no-op)."""
        grant = self.grants.get(self.by_refresh.get(token, ""))
        access = self.tokens.get(token)
        if grant is None and access is not None:
            grant = self.grants.get(access.grant_id)
        if grant is not None and grant.client_id == client_id:
            self._revoke(grant)

    def revoke_account(self, account_key: str) -> int:
        """The user uninstalled every app from the account (a control): grants revoked."""
        found = [g for g in self.grants.values() if g.account_key == account_key
                 and not g.revoked]
        for grant in found:
            self._revoke(grant)
        return len(found)

    def expire_tokens(self) -> int:
        """Every access token expires now (a control)."""
        for token, access in list(self.tokens.items()):
            self.tokens[token] = AccessToken(access.grant_id, 0.0)
        return len(self.tokens)

    # --- the API's Bearer check ----------------------------------------------------------
    def bearer(self, token: str) -> tuple[Grant | None, bool]:
        """The grant of a live access token, and whether the token is one the sandbox
        issued at all (expired and revoked ones too)."""
        access = self.tokens.get(token)
        if access is None:
            return None, False
        grant = self.grants.get(access.grant_id)
        if grant is None or grant.revoked or access.expires_at <= time.time():
            return None, True
        return grant, True

    def _issue(self, grant: Grant) -> dict[str, object]:
        refresh = "r-" + secrets.token_urlsafe(32)
        grant.refresh_token = refresh
        self.by_refresh[refresh] = grant.id
        access = "a-" + secrets.token_urlsafe(32)
        self.tokens[access] = AccessToken(grant.id, time.time() + self.access_token_ttl_s)
        return {"access_token": access, "token_type": "Bearer",
                "expires_in": max(1, round(self.access_token_ttl_s)), "refresh_token": refresh,
                "scope": grant.scope}

    def _revoke(self, grant: Grant) -> None:
        grant.revoked = True
        self.counts.revoked += 1

    def _refuse(self, description: str) -> dict[str, object]:
        self.counts.refused += 1
        raise OAuthRefusal("invalid_grant", description)
