"""The OAuth routes (docs/ARCHITECTURE.md §1), over :mod:`shared.klaviyo.oauth_flow`.

* ``GET /v1/accounts/{account}/klaviyo/oauth/start?return_to=URL`` (bearer, in
  :data:`router`): 302 to Klaviyo's authorize URL. The CRM's back end calls it and sends
  its user's browser to the ``Location``.
* ``DELETE /v1/accounts/{account}/klaviyo`` (bearer): revoked at Klaviyo, forgotten here.
* ``GET /v1/oauth/klaviyo/callback`` (:func:`callback_router`, no bearer: the browser comes
  back from Klaviyo and the single-use ``state`` is the credential; mounted even when the
  account API is off, for ``contact-sync accounts connect``): 302 to ``return_to`` with
  ``connected=1`` or ``error=<code>``; an unknown, expired or replayed ``state`` is a 400
  problem. A connection started from the CLI has no ``return_to``: a short page says how
  it went.

Routes run in FastAPI's thread pool (they call Redis and Klaviyo synchronously). Answers
never carry a token, a code or the client secret.
"""

from __future__ import annotations

import html
from typing import Annotated

import redis
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from producers.account_api.deps import AccountName, ServicesDep
from producers.account_api.problems import problem
from shared.account_service.accounts import existing
from shared.account_service.errors import Conflict, FieldError, Invalid, NotFound, Unavailable
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

router = APIRouter(tags=["klaviyo"])
NO_STORE = {"Cache-Control": "no-store"}


@router.get("/v1/accounts/{account}/klaviyo/oauth/start", status_code=302,
            response_class=RedirectResponse,
            summary="Connect the account to Klaviyo through OAuth (302 to Klaviyo)",
            responses={302: {"description": "to Klaviyo's authorize URL (PKCE S256, a "
                                            "single-use state)"}})
def oauth_start(account: AccountName, svc: ServicesDep,
                return_to: Annotated[str, Query(description="where the browser goes "
                                                "afterwards: an origin of "
                                                "SYNC_OAUTH_RETURN_ORIGINS")]) -> Response:
    try:
        url = start(svc.redis, svc.settings, account, return_to)
    except ReturnToRefused as refused:
        raise Invalid(str(refused), errors=[FieldError("return_to", str(refused))]) from None
    except OAuthNotConfigured as missing:  # like the account API when it is off
        raise NotFound(f"no OAuth here: {missing}") from None
    return RedirectResponse(url, 302, headers=NO_STORE)


@router.delete("/v1/accounts/{account}/klaviyo", status_code=204,
               summary="Disconnect from Klaviyo: the grant revoked, key and tokens forgotten")
def klaviyo_disconnect(account: AccountName, svc: ServicesDep) -> Response:
    existing(svc.redis, svc.settings, account)
    try:
        disconnect(svc.redis, svc.settings, account)
    except OAuthNotConfigured as missing:
        raise Conflict(f"the account's OAuth grant cannot be revoked: {missing}") from None
    except OAuthUnavailable as error:
        raise Unavailable(f"the grant could not be revoked at Klaviyo ({error}); nothing "
                          "was forgotten, try again") from None
    return Response(status_code=204)


def callback_router(settings: Settings, client: redis.Redis) -> APIRouter:
    """The callback Klaviyo sends the browser to (no bearer)."""
    callback = APIRouter(tags=["klaviyo"])

    @callback.get(CALLBACK_PATH, summary="Klaviyo's OAuth callback", status_code=302,
                  response_class=RedirectResponse,
                  responses={302: {"description": "to return_to with connected=1 or error"},
                             400: {"description": "unknown, expired or replayed state"}})
    def oauth_callback(request: Request) -> Response:
        try:
            done = finish(client, settings, dict(request.query_params))
        except StateRefused as refused:
            return problem(400, "Invalid OAuth state", f"{refused}: start the connection "
                           "again")
        location = done.location()
        if location is not None:
            return RedirectResponse(location, 302, headers=NO_STORE)
        said = "connected to Klaviyo" if done.error is None else \
            f"not connected ({html.escape(done.error)})"
        return HTMLResponse(f"<!doctype html><title>contact-sync</title><p>Account "
                            f"{html.escape(done.account)}: {said}. You can close this "
                            "window.</p>", 200 if done.error is None else 400)

    return callback
