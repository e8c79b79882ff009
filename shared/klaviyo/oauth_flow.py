"""The OAuth connection of an account, step by step: start, callback, disconnect.

The same code serves ``web``'s routes and the CLI (``contact-sync accounts connect``).

* :func:`start` makes a PKCE pair (S256) and a single-use ``state`` (32 random bytes) bound
  to the account and ``return_to`` -- stored in Redis for :data:`STATE_TTL_S` with the
  verifier encrypted -- and answers Klaviyo's authorize URL. ``return_to`` must be an
  http(s) URL on one of ``SYNC_OAUTH_RETURN_ORIGINS`` (no open redirect).
* :func:`finish` takes the callback's query: the ``state`` is taken out of Redis atomically
  (``GETDEL``: a replayed one is unknown), so an unknown, expired or replayed ``state`` is
  :class:`StateRefused` (no redirect: there is no trusted ``return_to``). Then the code is
  exchanged and the tokens stored (:func:`shared.klaviyo.oauth_tokens.store_connection`);
  the answer says where to send the browser, with ``connected=1`` or ``error=<code>``.
* :func:`disconnect` revokes the grant at Klaviyo and forgets the tokens and the key.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import secrets
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

import redis

from shared import constants as keys
from shared import secrets_box
from shared.accounts import ACCOUNT_NAME, AccountError
from shared.klaviyo.oauth_http import (
    OAuthNotConfigured,
    OAuthRefused,
    OAuthUnavailable,
    exchange_code,
    pkce_pair,
    revoke_token,
)
from shared.klaviyo.oauth_tokens import forget_connection, read_tokens, store_connection
from shared.settings import Settings

log = logging.getLogger(__name__)
STATE_TTL_S = 600
"""A user has ten minutes between the start and Klaviyo's callback."""
SCOPES = ("accounts:read", "profiles:read", "profiles:write", "lists:read", "lists:write",
          "subscriptions:write")
"""What the sync needs: profiles and their bulk import, lists (discovery, pulls, joins),
subscriptions; ``accounts:read`` Klaviyo asks of every app."""
CALLBACK_PATH = "/v1/oauth/klaviyo/callback"
_ERROR_CODE = re.compile(r"^[a-z_]{1,64}$")


class StateRefused(Exception):
    """The callback's ``state`` is unknown, expired or already used."""


class ReturnToRefused(AccountError):
    """``return_to`` is not an http(s) URL on one of ``SYNC_OAUTH_RETURN_ORIGINS``."""


@dataclass(frozen=True)
class Finished:
    """Where the callback sends the browser: ``return_to`` (None: show a page) and the
    outcome (``error`` None = connected)."""

    account: str
    return_to: str | None
    error: str | None

    def location(self) -> str | None:
        """``return_to`` with ``connected=1`` or ``error=<code>`` added."""
        if self.return_to is None:
            return None
        extra = {"connected": "1"} if self.error is None else {"error": self.error}
        glue = "&" if urlsplit(self.return_to).query else "?"
        return self.return_to + glue + urlencode(extra)


def callback_url(settings: Settings) -> str:
    """The redirect URI registered with the Klaviyo app: ``SYNC_PUBLIC_URL`` + callback."""
    if not settings.public_url:
        raise OAuthNotConfigured()
    return settings.public_url.rstrip("/") + CALLBACK_PATH


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def check_return_to(settings: Settings, return_to: str) -> str:
    """``return_to`` when its origin is allowed; :class:`ReturnToRefused` otherwise."""
    allowed = {_origin(origin.rstrip("/")) for origin in settings.oauth_return_origins}
    parts = urlsplit(return_to)
    if parts.scheme not in ("http", "https") or not parts.netloc \
            or _origin(return_to) not in allowed:
        raise ReturnToRefused("return_to must be an http(s) URL on one of "
                              "SYNC_OAUTH_RETURN_ORIGINS")
    return return_to


def start(client: redis.Redis, settings: Settings, account: str,
          return_to: str | None) -> str:
    """Klaviyo's authorize URL for connecting ``account``; the state is stored."""
    if not ACCOUNT_NAME.match(account):
        raise AccountError(f"invalid account name {account!r}")
    if not settings.oauth_client_id or settings.oauth_client_secret is None:
        raise OAuthNotConfigured()
    redirect_uri = callback_url(settings)
    if return_to is not None:
        check_return_to(settings, return_to)
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(32)
    record = {"account": account, "return_to": return_to,
              "verifier": secrets_box.encrypt(verifier, settings.secret_key)}
    client.set(keys.oauth_state(state), json.dumps(record), ex=STATE_TTL_S)
    query = urlencode({"response_type": "code", "client_id": settings.oauth_client_id,
                       "redirect_uri": redirect_uri, "scope": " ".join(SCOPES),
                       "state": state, "code_challenge": challenge,
                       "code_challenge_method": "S256"})
    return f"{settings.oauth_url('authorize')}?{query}"


def finish(client: redis.Redis, settings: Settings, query: dict[str, str]) -> Finished:
    """Klaviyo's callback: the state used up, the code exchanged, the tokens stored."""
    state = query.get("state") or ""
    raw = client.getdel(keys.oauth_state(state)) if state else None
    if raw is None:
        raise StateRefused("unknown, expired or already used OAuth state")
    record = json.loads(raw)
    account, return_to = str(record["account"]), record.get("return_to")
    if query.get("error") or not query.get("code"):
        said = query.get("error") or "invalid_request"
        return Finished(account, return_to, said if _ERROR_CODE.match(said) else "error")
    verifier = secrets_box.decrypt(str(record["verifier"]), settings.secret_key)
    try:
        tokens = exchange_code(settings, query["code"], verifier, callback_url(settings))
    except OAuthRefused as refused:
        code = refused.error if _ERROR_CODE.match(refused.error) else "exchange_refused"
        return Finished(account, return_to, code)
    except OAuthUnavailable:
        return Finished(account, return_to, "temporarily_unavailable")
    replaced = read_tokens(client, account, settings.secret_key)
    store_connection(client, account, tokens, settings.secret_key)
    if replaced is not None:  # newest wins: the old grant goes (in Klaviyo too)
        try:
            with contextlib.suppress(OAuthRefused):  # already dead there
                revoke_token(settings, replaced.refresh_token)
        except OAuthUnavailable:
            log.warning("account %s: reconnected, but its previous Klaviyo grant could not "
                        "be revoked (Klaviyo unreachable); remove the app there by hand",
                        account)
    return Finished(account, return_to, None)


def revoke_grant(client: redis.Redis, settings: Settings, account: str) -> bool:
    """Revoke the account's OAuth grant at Klaviyo (forgets nothing); False when it has
    none. :class:`OAuthUnavailable` when Klaviyo cannot be reached, and
    :class:`OAuthNotConfigured` when the app is not configured here."""
    tokens = read_tokens(client, account, settings.secret_key)
    if tokens is not None:
        with contextlib.suppress(OAuthRefused):  # already dead there: forget it here
            revoke_token(settings, tokens.refresh_token)
    return tokens is not None


def disconnect(client: redis.Redis, settings: Settings, account: str) -> bool:
    """Revoke the account's grant at Klaviyo, then forget its tokens and key; False when
    it had no OAuth connection (its key, if any, is forgotten all the same). A Klaviyo that
    cannot be reached raises :class:`OAuthUnavailable` and nothing is forgotten."""
    had_grant = revoke_grant(client, settings, account)
    forget_connection(client, account)
    return had_grant
