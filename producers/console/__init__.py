"""The console in the browser (docs/CONSOLE.md), served by ``web`` under ``/console``:
server-rendered Jinja2 pages, htmx vendored in :file:`static/` (no CDN, no build step),
readable without JavaScript.

* :mod:`.account_pages`: one account's settings page (embeddable in the CRM, opened by a
  signed link from ``POST /v1/accounts/{a}/console-link``) and its sync screen;
* :mod:`.operator_pages`: the operator's view (``SYNC_CONSOLE_TOKENS``);
* :mod:`.auth` and :mod:`.tokens`: links, sessions, CSRF; :mod:`.pages`: templates and
  headers; :mod:`.chart`: the SVG chart.

Without ``SYNC_CONSOLE_SECRET`` nothing is mounted (every ``/console`` path is a 404).
"""

from __future__ import annotations

import redis
from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from producers.console.account_pages import AccountPages
from producers.console.operator_pages import OperatorPages
from producers.console.pages import STATIC_DIR, Refused, refusal_page
from shared.account_service.errors import ServiceError
from shared.settings import Settings

CONSOLE_PATH = "/console"


def mount_console(app: FastAPI, settings: Settings, client: redis.Redis) -> bool:
    """Mount the console on ``app`` when ``SYNC_CONSOLE_SECRET`` is set; returns whether.
    Call after the account API is mounted: a refusal of the account service on a console
    path becomes a page, elsewhere it stays a problem document."""
    if settings.console_secret is None:
        return False
    app.mount(f"{CONSOLE_PATH}/static", StaticFiles(directory=STATIC_DIR), name="console")
    app.include_router(AccountPages(client, settings).router)
    app.include_router(OperatorPages(client, settings).router)
    problem_handler = app.exception_handlers.get(ServiceError)

    @app.exception_handler(Refused)
    async def refused(_request: Request, error: Exception) -> Response:
        assert isinstance(error, Refused)
        return refusal_page(settings, error)

    @app.exception_handler(ServiceError)
    async def service_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, ServiceError)
        if request.url.path.startswith(CONSOLE_PATH) or problem_handler is None:
            return refusal_page(settings, Refused(error.status, error.detail))
        answer: Response = await problem_handler(request, error)  # type: ignore[misc]
        return answer

    return True
