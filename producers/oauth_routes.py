"""The OAuth routes of ``web`` (DESIGN.md §3), over :mod:`shared.klaviyo.oauth_flow`.

* ``GET /v1/accounts/{account}/klaviyo/oauth/start?return_to=URL`` (bearer): 302 to
  Klaviyo's authorize URL. The CRM's back end calls it and sends its user's browser to the
  ``Location``.
* ``GET /v1/oauth/klaviyo/callback`` (no bearer: the browser comes back from Klaviyo; the
  single-use ``state`` is the credential): 302 to ``return_to`` with ``connected=1`` or
  ``error=<code>``; an unknown, expired or replayed ``state`` is a 400 problem. A connection
  started from the CLI has no ``return_to``: a short page says how it went.
* ``DELETE /v1/accounts/{account}/klaviyo`` (bearer): revoked at Klaviyo and forgotten here.

Routes run in FastAPI's thread pool (they call Redis and Klaviyo synchronously). Answers
never carry a token, a code or the client secret.
"""

from __future__ import annotations

import hmac
import html
from collections.abc import Callable
from typing import Annotated, Any

import redis
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from shared.accounts import AccountError, AccountStore, UnknownAccount
from shared.klaviyo.oauth_flow import (
    CALLBACK_PATH,
    ReturnToRefused,
    StateRefused,
    disconnect,
    finish,
    start,
)
from shared.klaviyo.oauth_http import OAuthNotConfigured, OAuthUnavailable
from shared.settings import Settings

MEDIA_TYPE = "application/problem+json"


def _problem(status: int, title: str, detail: str, **extra: Any) -> Response:
    body = {"type": "https://contact-sync.dev/problems/" + title.lower().replace(" ", "-"),
            "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status, media_type=MEDIA_TYPE)


def bearer_check(tokens: list[str]) -> Callable[[Request], None]:
    """The account API's bearer check (one of ``SYNC_API_TOKENS``, constant time)."""
    configured = [token.encode() for token in tokens]

    def check(request: Request) -> None:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        found = False
        for token in configured:
            found |= hmac.compare_digest(given.strip().encode(), token)
        if scheme.lower() != "bearer" or not found:
            raise _Unauthorized()

    return check


class _Unauthorized(Exception):
    pass


def account_router(settings: Settings, client: redis.Redis) -> APIRouter:
    """Start and disconnect: routes of the account API (mounted behind its bearer)."""
    router = APIRouter(tags=["klaviyo"])

    @router.get("/v1/accounts/{account}/klaviyo/oauth/start", status_code=302,
                summary="Connect the account to Klaviyo through OAuth",
                responses={302: {"description": "to Klaviyo's authorize URL"}})
    def oauth_start(account: str,
                    return_to: Annotated[str, Query(description="where the browser goes "
                                                    "afterwards (an allowed origin)")]
                    ) -> Response:
        try:
            url = start(client, settings, account, return_to)
        except ReturnToRefused as refused:
            return _problem(422, "Invalid request", str(refused),
                            errors=[{"field": "return_to", "message": str(refused)}])
        except OAuthNotConfigured as missing:
            return _problem(503, "OAuth not configured", str(missing))
        except AccountError as refused:
            return _problem(404, "Not found", str(refused))
        return RedirectResponse(url, 302, headers={"Cache-Control": "no-store"})

    @router.delete("/v1/accounts/{account}/klaviyo", status_code=204,
                   summary="Disconnect from Klaviyo: tokens revoked, key and tokens forgotten")
    def klaviyo_disconnect(account: str) -> Response:
        try:
            AccountStore(client, settings).get(account)
            disconnect(client, settings, account)
        except UnknownAccount as unknown:
            return _problem(404, "Not found", str(unknown))
        except AccountError as refused:
            return _problem(404, "Not found", str(refused))
        except (OAuthUnavailable, OAuthNotConfigured) as error:
            return _problem(503, "Klaviyo unavailable", f"the grant could not be revoked "
                            f"({error}); nothing was forgotten, try again")
        return Response(status_code=204)

    return router


def callback_router(settings: Settings, client: redis.Redis) -> APIRouter:
    """The callback Klaviyo sends the browser to (no bearer)."""
    router = APIRouter(tags=["klaviyo"])

    @router.get(CALLBACK_PATH, summary="Klaviyo's OAuth callback", status_code=302,
                responses={302: {"description": "to return_to with connected=1 or error"}})
    def oauth_callback(request: Request) -> Response:
        try:
            done = finish(client, settings, dict(request.query_params))
        except StateRefused as refused:
            return _problem(400, "Invalid OAuth state", f"{refused}: start the connection "
                            "again")
        location = done.location()
        if location is not None:
            return RedirectResponse(location, 302, headers={"Cache-Control": "no-store"})
        said = "connected to Klaviyo" if done.error is None else \
            f"not connected ({html.escape(done.error)})"
        return HTMLResponse(f"<!doctype html><title>contact-sync</title><p>Account "
                            f"{html.escape(done.account)}: {said}. You can close this "
                            "window.</p>", 200 if done.error is None else 400)

    return router


def mount_oauth(app: FastAPI, settings: Settings, client: redis.Redis) -> None:
    """The callback always; start and disconnect when the account API is on."""
    app.include_router(callback_router(settings, client))
    if not settings.api_tokens:
        return

    @app.exception_handler(_Unauthorized)
    async def unauthorized(_request: Request, _error: _Unauthorized) -> Response:
        return _problem(401, "Unauthorized", "send 'Authorization: Bearer <one of "
                        "SYNC_API_TOKENS>'")

    app.include_router(account_router(settings, client),
                       dependencies=[Depends(bearer_check(settings.api_tokens))])
