"""The account API (docs/ARCHITECTURE.md §1, "Account API"): what the CRM's settings page and
its customers' sync screen call. Routes per concern (:mod:`.settings_routes`,
:mod:`.klaviyo_routes`, :mod:`.oauth_routes`, :mod:`.preview_routes`,
:mod:`.next_sync_routes` (before :mod:`.sync_routes`), :mod:`.sync_routes`,
:mod:`.resync_routes`, :mod:`.rejection_routes`,
:mod:`.erasure_routes`, :mod:`.console_link_routes`), all over
:mod:`shared.account_service`; bearer tokens (:mod:`.auth`), RFC 9457 problems
(:mod:`.problems`). Without ``SYNC_API_TOKENS`` none of it is mounted: every
``/v1/accounts`` path is a 404 problem saying the API is off and how to turn it on (the
OAuth callback stays, for ``contact-sync accounts connect``).
"""

from __future__ import annotations

import redis
from fastapi import APIRouter, Depends, FastAPI
from fastapi.responses import Response

from producers.account_api import (
    console_link_routes,
    erasure_routes,
    klaviyo_routes,
    next_sync_routes,
    oauth_routes,
    preview_routes,
    rejection_routes,
    resync_routes,
    settings_routes,
    sync_routes,
)
from producers.account_api.auth import bearer_check
from producers.account_api.deps import Services
from producers.account_api.problems import PROBLEM_RESPONSES, install_problem_handlers, problem
from shared.settings import Settings

ACCOUNTS_PATH = "/v1/accounts"
API_OFF = ("the account API is off: set SYNC_API_TOKENS (bearer tokens, comma-separated) "
           "in web's environment and restart it; docs/ACCOUNT_API.md")


async def _api_off() -> Response:
    return problem(404, "Account API off", API_OFF)


def mount_account_api(app: FastAPI, settings: Settings, client: redis.Redis) -> bool:
    """Mount the account API on ``app`` when tokens are configured; returns whether."""
    install_problem_handlers(app)
    app.include_router(oauth_routes.callback_router(settings, client))
    if not settings.api_tokens:
        app.add_api_route(ACCOUNTS_PATH + "{rest:path}", _api_off, include_in_schema=False,
                          methods=["GET", "PUT", "PATCH", "POST", "DELETE"])
        return False
    app.state.account_services = Services(client, settings)
    router = APIRouter(dependencies=[Depends(bearer_check(settings.api_tokens))],
                       responses=PROBLEM_RESPONSES)
    for module in (settings_routes, klaviyo_routes, oauth_routes, preview_routes,
                   next_sync_routes, sync_routes, rejection_routes, console_link_routes,
                   erasure_routes, resync_routes):
        router.include_router(module.router)
    app.include_router(router)
    return True
