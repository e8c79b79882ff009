"""What a person's browser is shown when the OAuth flow cannot go on: a short HTML page
saying what happened and what to do (a reloaded callback, an expired or used link, another
browser); an API client that does not ask for HTML gets the same as problem+json.

Also the access-log filter of the flow's two browser routes: their query strings (the
single-use ``flow``, Klaviyo's ``code`` and the ``state``) never reach a log line or the
Sentry breadcrumb made from it.
"""

from __future__ import annotations

import html
import logging
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from producers.account_api.problems import MEDIA_TYPE, Problem, problem

NO_STORE = {"Cache-Control": "no-store"}


def refusal_response(description: str) -> dict[str, Any]:
    """The OpenAPI description of a 400 of the browser's routes: a page or a problem."""
    return {"description": description + " (an HTML page when the client asks for "
                                         "text/html, else a problem)",
            # The model registers Problem's schema even when the account API is off.
            "model": Problem,
            "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}},
                        "text/html": {"schema": {"type": "string"}}}}


def wants_html(request: Request) -> bool:
    """A browser's navigation (``Accept`` names ``text/html``)."""
    return "text/html" in request.headers.get("accept", "").lower()


def page(status: int, heading: str, text: str) -> HTMLResponse:
    """A small self-contained page (no script, no outside asset)."""
    return HTMLResponse(
        f"<!doctype html><html lang=en><meta charset=utf-8><title>contact-sync: "
        f"{html.escape(heading)}</title><h1>{html.escape(heading)}</h1>"
        f"<p>{html.escape(text)}</p></html>", status, headers=NO_STORE)


def refused(request: Request, title: str, heading: str, text: str) -> Response:
    """400: a page for a person, problem+json for an API client."""
    if wants_html(request):
        return page(400, heading, text)
    return problem(400, title, text, headers=NO_STORE)


class QueryHidden(logging.Filter):
    """Drops the query string of the access-log lines of ``paths`` (uvicorn's
    ``uvicorn.access`` record: ``(client, method, path_with_query, version, status)``)."""

    def __init__(self, *paths: str) -> None:
        super().__init__()
        self.paths = paths

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str) \
                and args[2].split("?", 1)[0] in self.paths and "?" in args[2]:
            record.args = (*args[:2], args[2].split("?", 1)[0] + "?(hidden)", *args[3:])
        return True


def hide_queries_in_access_log(*paths: str) -> None:
    """Install :class:`QueryHidden` on uvicorn's access logger (once per process)."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, QueryHidden) and f.paths == paths for f in access.filters):
        access.addFilter(QueryHidden(*paths))
