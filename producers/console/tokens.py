"""The console's signed tokens: HMAC-SHA256 under ``SYNC_CONSOLE_SECRET``, with a kind, an
expiry and a random nonce, so nothing about a session is stored server-side.

* ``link``: what ``POST /v1/accounts/{a}/console-link`` mints; opens one account's pages
  once within ``SYNC_CONSOLE_LINK_TTL`` (the nonce is remembered until the link expires:
  :func:`shared.constants.console_link_used`).
* ``page``: what opening a link gives; the account's pages carry it in their URLs and
  forms (an iframe of another site gets no ``SameSite=Strict`` cookie, so the embedded
  pages cannot rely on one) for ``SYNC_CONSOLE_SESSION_TTL``.
* ``operator``: the operator's session cookie; it names a fingerprint of the console
  token logged in with, so removing a token from ``SYNC_CONSOLE_TOKENS`` ends its sessions.

A CSRF token is the HMAC of a session's nonce: a form posted without the one of its own
session is refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Literal

import orjson

Kind = Literal["link", "page", "operator"]


class TokenRefused(Exception):
    """A token that is malformed, signed by another secret, expired or of another kind;
    the message says which, without echoing the token."""


@dataclass(frozen=True)
class Claims:
    kind: Kind
    subject: str
    """The account (``link``, ``page``) or the operator token's fingerprint."""
    expires: float
    nonce: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, purpose: str, data: bytes) -> bytes:
    return hmac.new(secret.encode(), purpose.encode() + b"\0" + data, hashlib.sha256).digest()


def mint(secret: str, kind: Kind, subject: str, ttl: float, now: float | None = None) -> str:
    now = time.time() if now is None else now
    payload = orjson.dumps({"k": kind, "s": subject, "x": int(now + ttl),
                            "n": secrets.token_urlsafe(12)})
    return f"{_b64(payload)}.{_b64(_mac(secret, 'token', payload))}"


def verify(secret: str, token: str, kind: Kind, now: float | None = None) -> Claims:
    now = time.time() if now is None else now
    body, _, signature = token.partition(".")
    try:
        payload, given = _unb64(body), _unb64(signature)
    except (ValueError, TypeError):
        raise TokenRefused("the link is malformed") from None
    if not hmac.compare_digest(given, _mac(secret, "token", payload)):
        raise TokenRefused("the link is not signed by this server")
    try:
        claims = orjson.loads(payload)
        found = Claims(str(claims["k"]), str(claims["s"]),  # type: ignore[arg-type]
                       float(claims["x"]), str(claims["n"]))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        raise TokenRefused("the link is malformed") from None
    if found.kind != kind:
        raise TokenRefused(f"this is not a console {kind} token")
    if found.expires < now:
        raise TokenRefused("the link has expired: ask for a new one")
    return found


def fingerprint(secret: str, operator_token: str) -> str:
    """Names an operator token inside a session without carrying it."""
    return _b64(_mac(secret, "operator", operator_token.encode()))[:22]


def csrf_token(secret: str, nonce: str) -> str:
    return _b64(_mac(secret, "csrf", nonce.encode()))


def csrf_matches(secret: str, nonce: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(str(given), csrf_token(secret, nonce))
