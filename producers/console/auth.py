"""Who is looking at a console page.

* An account's pages (``/console/accounts/{a}/...``) are open to the CRM's user who came
  through a console link (the page token ``s`` in the URL, for that account only) and to
  a logged-in operator (any account).
* The operator's pages need the operator's session cookie (``HttpOnly``,
  ``SameSite=Strict``, ``Secure`` when the request came over https), set by logging in
  with one of ``SYNC_CONSOLE_TOKENS``.

Every check happens before a body is read. Each viewer has a session nonce; its CSRF
token (:func:`producers.console.tokens.csrf_token`) is in every form.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

import redis
from fastapi import Request
from fastapi.responses import Response

from producers.account_api.auth import token_matches
from producers.console import tokens
from producers.console.links import secret_of
from producers.console.pages import Refused, with_query
from shared import constants as keys
from shared.settings import Settings

COOKIE = "console_session"
LOGIN_COOKIE = "console_login"
PAGE_PARAM = "s"


@dataclass(frozen=True)
class Viewer:
    operator: bool
    nonce: str
    csrf: str
    page_token: str | None = None
    """The account page token to carry in URLs (``None`` for an operator)."""

    def url(self, path: str, **params: object) -> str:
        """``path`` with this viewer's page token (and ``params``) in its query."""
        return with_query(path, **params, **({PAGE_PARAM: self.page_token}
                                              if self.page_token else {}))


def _https(request: Request) -> bool:
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip()
    return request.url.scheme == "https" or forwarded == "https"


def operator_session(request: Request, settings: Settings) -> Viewer | None:
    """The logged-in operator, or ``None``."""
    cookie = request.cookies.get(COOKIE)
    if not cookie or not settings.console_tokens:
        return None
    secret = secret_of(settings)
    try:
        claims = tokens.verify(secret, cookie, "operator")
    except tokens.TokenRefused:
        return None
    if claims.subject not in {tokens.fingerprint(secret, t) for t in settings.console_tokens}:
        return None  # the token it logged in with was removed from SYNC_CONSOLE_TOKENS
    return Viewer(True, claims.nonce, tokens.csrf_token(secret, claims.nonce))


def require_operator(request: Request, settings: Settings) -> Viewer:
    viewer = operator_session(request, settings)
    if viewer is None:
        raise Refused(401, "log in first: this page is for operators")
    return viewer


def account_viewer(request: Request, settings: Settings, account: str) -> Viewer:
    """The viewer of ``account``'s pages: its page token, else an operator's session."""
    given = request.query_params.get(PAGE_PARAM)
    if given:
        secret = secret_of(settings)
        try:
            claims = tokens.verify(secret, given, "page")
        except tokens.TokenRefused as refused:
            raise Refused(403, f"{refused}: open the settings again from the CRM") from None
        if claims.subject != account:
            raise Refused(403, "this link is for another account")
        return Viewer(False, claims.nonce, tokens.csrf_token(secret, claims.nonce), given)
    viewer = operator_session(request, settings)
    if viewer is None:
        raise Refused(401, "this page opens from a console link (ask the CRM for one), or "
                      "for a logged-in operator")
    return viewer


def open_link(client: redis.Redis, settings: Settings, link: str) -> tuple[str, str]:
    """A console link exchanged, once, for ``(account, page token)``."""
    secret = secret_of(settings)
    try:
        claims = tokens.verify(secret, link, "link")
    except tokens.TokenRefused as refused:
        raise Refused(403, f"{refused}: open the settings again from the CRM") from None
    remaining = max(1, int(claims.expires - time.time()) + 1)
    if not client.set(keys.console_link_used(claims.nonce), "1", nx=True, ex=remaining):
        raise Refused(403, "this link was used already: open the settings again from the CRM")
    page = tokens.mint(secret, "page", claims.subject, settings.console_session_ttl)
    return claims.subject, page


def log_in(request: Request, settings: Settings, given: str, response: Response) -> bool:
    """Set the operator's session cookie when ``given`` is one of ``SYNC_CONSOLE_TOKENS``."""
    if not given or not token_matches(given, settings.console_tokens):
        return False
    secret = secret_of(settings)
    session = tokens.mint(secret, "operator", tokens.fingerprint(secret, given),
                          settings.console_session_ttl)
    response.set_cookie(COOKIE, session, max_age=settings.console_session_ttl,
                        path="/console", httponly=True, samesite="strict",
                        secure=_https(request))
    response.delete_cookie(LOGIN_COOKIE, path="/console")
    return True


def log_out(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/console")


def login_nonce(request: Request) -> str:
    """The login form's CSRF nonce: a double-submitted cookie (there is no session yet)."""
    return request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(16)


def set_login_nonce(request: Request, response: Response, nonce: str) -> None:
    response.set_cookie(LOGIN_COOKIE, nonce, max_age=3600, path="/console", httponly=True,
                        samesite="strict", secure=_https(request))

