"""How the console answers: Jinja2 templates (autoescaped) with the security headers every
console page carries, refusals as short pages, and forms read (after the request is
authenticated) within a size limit."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from shared.settings import Settings

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
MAX_FORM_BYTES = 256 * 1024
"""A console form is a few fields (a replay lists at most a page of contact ids)."""

templates = Environment(loader=FileSystemLoader(HERE / "templates"),
                        autoescape=select_autoescape(["html", "svg"]), trim_blocks=True,
                        lstrip_blocks=True)
templates.filters["datetime"] = lambda epoch: datetime.fromtimestamp(
    float(epoch), UTC).strftime("%Y-%m-%d %H:%M:%S")


class Refused(Exception):
    """A console request refused: shown as a short page with this status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def security_headers(settings: Settings, *, embeddable: bool) -> dict[str, str]:
    """CSP and friends. An account's pages may be framed by the CRM's origins
    (``SYNC_CONSOLE_FRAME_ANCESTORS``), the operator's never; forms go to this server and,
    when OAuth is configured, on to Klaviyo's authorize page."""
    ancestors = " ".join(settings.console_frame_ancestors) if embeddable else ""
    form_action = "'self'"
    if settings.oauth_client_id:
        form_action += " " + _origin(settings.oauth_url("authorize"))
    policy = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
              f"connect-src 'self'; form-action {form_action}; base-uri 'none'; "
              f"frame-ancestors {ancestors or chr(39) + 'none' + chr(39)}")
    return {"Content-Security-Policy": policy, "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


def render(settings: Settings, name: str, context: dict[str, Any], *, status: int = 200,
           embeddable: bool = False) -> HTMLResponse:
    body = templates.get_template(name).render(**context)
    return HTMLResponse(body, status, headers=security_headers(settings,
                                                               embeddable=embeddable))


def refusal_page(settings: Settings, refused: Refused) -> Response:
    return render(settings, "refused.html", {"message": refused.message, "viewer": None},
                  status=refused.status)


async def read_form(request: Request,
                    limit: int = MAX_FORM_BYTES) -> dict[str, list[str]]:
    """The urlencoded body, at most ``limit`` bytes (call after authenticating)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise Refused(413, "the form is too large")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise Refused(413, "the form is too large")
    return parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)


def first(form: dict[str, list[str]], name: str) -> str:
    return (form.get(name) or [""])[0]


def with_query(path: str, **params: Any) -> str:
    given = {k: v for k, v in params.items() if v not in (None, "")}
    return f"{path}?{urlencode(given, doseq=True)}" if given else path
