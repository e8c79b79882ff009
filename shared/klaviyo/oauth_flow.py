"""The OAuth connection of an account, step by step: start, launch, callback, disconnect.

The same code serves ``web``'s routes and the CLI (``contact-sync accounts connect``).

* :func:`start` (the CRM's back end, with its bearer token; or the CLI) checks ``return_to``
  -- an http(s) URL on one of ``SYNC_OAUTH_RETURN_ORIGINS`` (no open redirect) -- keeps a
  single-use *flow* (32 random bytes) for the account and ``return_to`` for
  :data:`STATE_TTL_S`, and answers its launch URL on ``web``
  (``SYNC_PUBLIC_URL`` + :data:`LAUNCH_PATH`), to be opened in the user's own browser.
* :func:`launch` (that browser) uses the flow up (``GETDEL``), makes a PKCE pair (S256) and
  a single-use ``state`` bound to the account, ``return_to`` and the SHA-256 of a random
  *browser nonce* -- stored in Redis with the verifier encrypted -- and answers Klaviyo's
  authorize URL plus the nonce, which ``web`` sets as an HttpOnly cookie scoped to the
  callback (:func:`cookie_name`). The flow is thereby bound to the browser that opened the
  launch URL first (RFC 9700 §4.7): Klaviyo's authorize URL opened in any other browser
  (leaked, forwarded, or planted by someone who wants their Klaviyo account connected to
  this tenant) comes back without the cookie and connects nothing.
* :func:`finish` takes the callback's query and cookies: an unknown, expired or replayed
  ``state`` is :class:`StateRefused`, one whose browser cookie is missing or other is
  :class:`BrowserRefused` (the state is not used up: the right browser may still come back).
  Then the state is taken out of Redis atomically (``GETDEL``), the code exchanged and the
  tokens stored (:func:`shared.klaviyo.oauth_tokens.store_connection`, a new connection:
  newest wins); a grant it replaces is revoked at Klaviyo. The answer says where to send
  the browser, with ``connected=1`` or ``error=<code>``.
* :func:`disconnect` revokes the grant at Klaviyo and forgets the tokens and the key.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import SplitResult, urlencode, urlsplit

import redis

from shared import constants as keys
from shared import secrets_box
from shared.accounts import ACCOUNT_NAME, AccountError
from shared.klaviyo.oauth_http import (
    OAuthRefused,
    OAuthUnavailable,
    exchange_code,
    pkce_pair,
    require_oauth,
    revoke_token,
)
from shared.klaviyo.oauth_tokens import forget_connection, read_tokens, store_connection
from shared.settings import Settings

log = logging.getLogger(__name__)
STATE_TTL_S = 600
"""A user has ten minutes between the start and Klaviyo's callback."""
SCOPES = ("accounts:read", "profiles:read", "profiles:write", "lists:read", "lists:write",
          "subscriptions:write", "data-privacy:write")
"""What the sync needs: profiles and their bulk import, lists (discovery, pulls, joins),
subscriptions, erasures (``request_profile_deletion``); ``accounts:read`` Klaviyo asks of
every app."""
CALLBACK_PATH = "/v1/oauth/klaviyo/callback"
LAUNCH_PATH = "/v1/oauth/klaviyo/authorize"
"""Where the user's browser starts the flow (``?flow=``): web sets the browser cookie."""
_ERROR_CODE = re.compile(r"^[a-z_]{1,64}$")


class StateRefused(Exception):
    """The callback's ``state`` (or the launch's ``flow``) is unknown, expired or already
    used."""


class BrowserRefused(StateRefused):
    """The callback came to a browser other than the one that launched the flow (its
    cookie is missing or another)."""


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


def _public(settings: Settings, path: str) -> str:
    require_oauth(settings, browser=True)
    assert settings.public_url
    return settings.public_url.rstrip("/") + path


def callback_url(settings: Settings) -> str:
    """The redirect URI registered with the Klaviyo app: ``SYNC_PUBLIC_URL`` + callback."""
    return _public(settings, CALLBACK_PATH)


def _origin(parts: SplitResult) -> str:
    return f"{parts.scheme}://{parts.netloc}".lower()


def _split(url: str) -> SplitResult | None:
    """``url``'s parts when it is a plain http(s) URL with an ASCII host and no user info;
    None (never an error) for anything else: a host with full-width or other non-ASCII
    characters (which NFKC would turn into ``#``, ``@`` or ``/`` and a browser reads
    differently), an unclosed ``[``, a port that is not a number."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises on a port that is not a number in range
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc \
            or not parts.netloc.isascii() or "@" in parts.netloc or "\\" in url:
        return None
    return parts


def check_return_to(settings: Settings, return_to: str) -> str:
    """``return_to`` when its origin is allowed; :class:`ReturnToRefused` otherwise."""
    allowed = {_origin(parts) for parts in
               (_split(origin.strip().rstrip("/")) for origin in settings.oauth_return_origins)
               if parts is not None}
    parts = _split(return_to)
    if parts is None or _origin(parts) not in allowed:
        raise ReturnToRefused("return_to must be an http(s) URL on one of "
                              "SYNC_OAUTH_RETURN_ORIGINS")
    return return_to


def start(client: redis.Redis, settings: Settings, account: str,
          return_to: str | None) -> str:
    """The launch URL that connects ``account`` once opened in the user's browser (the
    flow is kept :data:`STATE_TTL_S`, single use)."""
    if not ACCOUNT_NAME.match(account):
        raise AccountError(f"invalid account name {account!r}")
    launch_url = _public(settings, LAUNCH_PATH)
    if return_to is not None:
        check_return_to(settings, return_to)
    flow = secrets.token_urlsafe(32)
    client.set(keys.oauth_flow(flow), json.dumps({"account": account, "return_to": return_to}),
               ex=STATE_TTL_S)
    return f"{launch_url}?{urlencode({'flow': flow})}"


@dataclass(frozen=True)
class Launched:
    """Klaviyo's authorize URL, and the cookie that binds the flow to this browser."""

    authorize_url: str
    cookie_name: str
    """:func:`cookie_name` of the flow's state."""
    cookie_value: str
    """The browser nonce (its SHA-256 is in the state)."""


def cookie_name(state: str) -> str:
    """The browser cookie of one flow (named after its state, so two flows in one browser
    keep apart)."""
    return "contact_sync_oauth_" + hashlib.sha256(state.encode()).hexdigest()[:16]


def _digest(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


def launch(client: redis.Redis, settings: Settings, flow: str) -> Launched:
    """The browser opened the launch URL: the flow used up, a state bound to this browser
    stored, and Klaviyo's authorize URL. :class:`StateRefused` for an unknown, expired or
    used flow."""
    raw = client.getdel(keys.oauth_flow(flow)) if flow else None
    if raw is None:
        raise StateRefused("unknown, expired or already used connection link")
    record = json.loads(raw)
    redirect_uri = callback_url(settings)
    verifier, challenge = pkce_pair()
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    record.update(verifier=secrets_box.encrypt(verifier, settings.secret_key),
                  browser=_digest(nonce))
    client.set(keys.oauth_state(state), json.dumps(record), ex=STATE_TTL_S)
    query = urlencode({"response_type": "code", "client_id": settings.oauth_client_id,
                       "redirect_uri": redirect_uri, "scope": " ".join(SCOPES),
                       "state": state, "code_challenge": challenge,
                       "code_challenge_method": "S256"})
    return Launched(f"{settings.oauth_url('authorize')}?{query}", cookie_name(state), nonce)


def finish(client: redis.Redis, settings: Settings, query: Mapping[str, str],
           cookies: Mapping[str, str]) -> Finished:
    """Klaviyo's callback in the browser that launched the flow: the state used up, the
    code exchanged, the tokens stored."""
    state = query.get("state") or ""
    key = keys.oauth_state(state)
    seen = client.get(key) if state else None
    if seen is None:
        raise StateRefused("unknown, expired or already used OAuth state")
    nonce = cookies.get(cookie_name(state)) or ""
    if not hmac.compare_digest(_digest(nonce), str(json.loads(seen).get("browser"))):
        raise BrowserRefused("this connection was started in another browser")
    raw = client.getdel(key)
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
