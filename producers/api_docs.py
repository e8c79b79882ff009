"""``/docs``: Swagger UI over ``/openapi.json``, its assets served by ``web`` itself from
``producers/static/swagger-ui`` (a vendored Swagger UI dist, see its NOTICE): the page works
offline and asks no other host for anything (no CDN, no validator badge)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_PATH = "/docs"
ASSETS_PATH = DOCS_PATH + "/assets"
ASSETS_DIR = Path(__file__).resolve().parent / "static" / "swagger-ui"


def mount_docs(app: FastAPI, openapi_url: str = "/openapi.json") -> None:
    """Serve Swagger UI at :data:`DOCS_PATH` (create the app with ``docs_url=None``)."""
    app.mount(ASSETS_PATH, StaticFiles(directory=ASSETS_DIR), name="swagger-ui-assets")

    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url, title=f"{app.title} - API",
            swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_PATH}/favicon-32x32.png",
            swagger_ui_parameters={"validatorUrl": None})

    app.add_api_route(DOCS_PATH, docs, methods=["GET"], include_in_schema=False)
