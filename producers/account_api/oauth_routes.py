"""The OAuth routes, over :mod:`shared.klaviyo.oauth_flow`.

* ``GET /v1/accounts/{account}/klaviyo/oauth/start?return_to=URL`` (bearer, in
  :data:`router`): 302 to the flow's launch URL on ``web``. The CRM's back end calls it and
  sends *its user's browser* to the ``Location`` (it must not follow it itself).
* ``GET /v1/oauth/klaviyo/authorize?flow=...`` (no bearer, the single-use flow is the
  credential): sets the browser cookie that binds the flow to this browser and 302s to
  Klaviyo's authorize URL.
* ``DELETE /v1/accounts/{account}/klaviyo`` (bearer): revoked at Klaviyo, forgotten here.
* ``GET /v1/oauth/klaviyo/callback`` (:func:`callback_router`, no bearer: the browser comes
  back from Klaviyo; the single-use ``state`` and the browser's cookie are the credential;
  mounted even when the account API is off, for ``contact-sync accounts connect``): 302 to
  ``return_to`` with ``connected=1`` or ``error=<code>``. An unknown, expired or replayed
  ``state``, or another browser's, is a 400: a page saying what to do for a person, a
  problem for an API client (:mod:`.oauth_pages`). A connection started from the CLI has no
  ``return_to``: a short page says how it went.

Routes run in FastAPI's thread pool (they call Redis and Klaviyo synchronously). Answers
never carry a token, a code or the client secret, and the access log never their queries.
"""

from __future__ import annotations

from typing import Annotated

import redis
from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from producers.account_api.deps import AccountName, ServicesDep
from producers.account_api.oauth_pages import (
    NO_STORE,
    hide_queries_in_access_log,
    page,
    refusal_response,
    refused,
)
from shared.account_service.connection import disconnect_klaviyo
from shared.account_service.errors import FieldError, Invalid, NotFound
from shared.klaviyo.oauth_flow import (
    CALLBACK_PATH,
    LAUNCH_PATH,
    STATE_TTL_S,
    BrowserRefused,
    ReturnToRefused,
    StateRefused,
    cookie_name,
    finish,
    launch,
    start,
)
from shared.klaviyo.oauth_http import OAuthNotConfigured
from shared.settings import Settings

router = APIRouter(tags=["klaviyo"])
AGAIN = "Nothing was connected. Go back to your CRM and start the Klaviyo connection again."


@router.get("/v1/accounts/{account}/klaviyo/oauth/start", status_code=302,
            response_class=RedirectResponse,
            summary="Connect the account to Klaviyo through OAuth (302 to the launch URL, "
                    "for the user's browser)",
            responses={302: {"description": "to the flow's single-use launch URL on web "
                                            "(SYNC_PUBLIC_URL), valid ten minutes: send "
                                            "the user's browser there, do not follow it "
                                            "server-side"}})
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
    disconnect_klaviyo(svc.redis, svc.settings, account)
    return Response(status_code=204)


def callback_router(settings: Settings, client: redis.Redis) -> APIRouter:
    """The browser's routes of the flow (no bearer): the launch and Klaviyo's callback."""
    callback = APIRouter(tags=["klaviyo"])
    hide_queries_in_access_log(LAUNCH_PATH, CALLBACK_PATH)
    secure = (settings.public_url or "").lower().startswith("https://")

    @callback.get(LAUNCH_PATH, summary="Open the OAuth flow in the user's browser (302 to "
                  "Klaviyo)", status_code=302, response_class=RedirectResponse,
                  responses={302: {"description": "to Klaviyo's authorize URL, with the "
                                                  "cookie that binds the flow to this "
                                                  "browser"},
                             400: refusal_response("unknown, expired or used flow")})
    def oauth_launch(request: Request, flow: Annotated[str, Query(
            max_length=100, description="the single-use flow of the start route")]) -> Response:
        try:
            launched = launch(client, settings, flow)
        except StateRefused:
            return refused(request, "Invalid OAuth flow", "This link has expired or was "
                           "already used", "A Klaviyo connection link works once, for ten "
                           f"minutes. {AGAIN}")
        except OAuthNotConfigured as missing:
            return refused(request, "OAuth not configured", "Klaviyo connections are not "
                           "set up here", str(missing))
        answer = RedirectResponse(launched.authorize_url, 302, headers=NO_STORE)
        answer.set_cookie(launched.cookie_name, launched.cookie_value, max_age=STATE_TTL_S,
                          path=CALLBACK_PATH, secure=secure, httponly=True, samesite="lax")
        return answer

    @callback.get(CALLBACK_PATH, summary="Klaviyo's OAuth callback", status_code=302,
                  response_class=RedirectResponse,
                  responses={302: {"description": "to return_to with connected=1 or error"},
                             400: refusal_response("unknown, expired or replayed state, or "
                                                   "another browser's")})
    def oauth_callback(request: Request) -> Response:
        try:
            done = finish(client, settings, request.query_params, request.cookies)
        except BrowserRefused:
            return refused(request, "OAuth flow of another browser", "This connection was "
                           "started in another browser", "For your safety a Klaviyo "
                           "connection must end in the browser it was started in (with "
                           f"cookies allowed). {AGAIN}")
        except StateRefused:
            return refused(request, "Invalid OAuth state", "This connection is already "
                           "finished or has expired", "The page was reloaded, or more than "
                           "ten minutes passed since the connection started; if you just "
                           "connected, your CRM shows it. Otherwise: " + AGAIN)
        location = done.location()
        answer: Response
        if location is not None:
            answer = RedirectResponse(location, 302, headers=NO_STORE)
        elif done.error is None:
            answer = page(200, "Connected to Klaviyo", f"Account {done.account} is "
                          "connected to Klaviyo. You can close this window.")
        else:
            answer = page(400, "Not connected to Klaviyo", f"Account {done.account} was not "
                          f"connected ({done.error}). Start the connection again.")
        state = request.query_params.get("state") or ""
        answer.delete_cookie(cookie_name(state), path=CALLBACK_PATH, secure=secure,
                             httponly=True, samesite="lax")
        return answer

    return callback
