"""RFC 9457 problem details (``application/problem+json``): ``type``, ``title``,
``status``, ``detail``; a 422 lists each refused field in ``errors``; Klaviyo's code, when
Klaviyo refused, in ``klaviyo_code``."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.account_service.errors import ServiceError

PROBLEM_TYPE = "urn:contact-sync:problem:"
"""Problem types are URNs: they name the problem and point at no page."""
MEDIA_TYPE = "application/problem+json"
ACCOUNTS_PREFIX = "/v1/accounts"


class FieldProblem(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    type: str = Field(examples=[PROBLEM_TYPE + "invalid-request"])
    title: str = Field(examples=["Invalid request"])
    status: int = Field(examples=[422])
    detail: str = Field(examples=["max_bulk_export: Input should be greater than or equal to 0"])
    errors: list[FieldProblem] | None = None
    klaviyo_code: str | None = None


def _content(description: str) -> dict[str, Any]:
    return {"description": description, "model": Problem,
            "content": {MEDIA_TYPE: {"schema": {
                "$ref": f"#/components/schemas/{Problem.__name__}"}}}}


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _content("The body is not JSON."),
    401: _content("Bearer token missing or not one of SYNC_API_TOKENS."),
    404: _content("No such account (or sync)."),
    409: _content("The request conflicts with the account's state (e.g. no Klaviyo key "
                  "yet, the account 'default' cannot be deleted)."),
    408: _content("The body did not arrive within SYNC_WEB_BODY_TIMEOUT seconds."),
    413: _content("The body is over the route's limit (64 KiB; 1 MiB for a replay)."),
    422: _content("Refused fields, each in `errors`; Klaviyo's refusal in `klaviyo_code`."),
    503: _content("Klaviyo could not be asked, or the server cannot store keys."),
}


def problem(status: int, title: str, detail: str, *, errors: list[dict[str, str]] | None = None,
            code: str | None = None, headers: dict[str, str] | None = None) -> Response:
    slug = title.lower().replace(" ", "-")
    body: dict[str, Any] = {"type": PROBLEM_TYPE + slug, "title": title, "status": status,
                            "detail": detail}
    if errors is not None:
        body["errors"] = errors
    if code:
        body["klaviyo_code"] = code
    return JSONResponse(body, status, media_type=MEDIA_TYPE, headers=headers)


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def refused(_request: Request, error: Exception) -> Response:
        assert isinstance(error, ServiceError)
        headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
        errors = ([{"field": e.field, "message": e.message} for e in error.errors]
                  if error.status == 422 else None)
        return problem(error.status, error.title, error.detail, errors=errors,
                       code=error.code, headers=headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: Exception) -> Response:
        """404 and 405 of the account API's paths are problems too; others keep
        Starlette's ``{"detail": ...}`` (the webhook's shape)."""
        assert isinstance(error, StarletteHTTPException)
        if not request.url.path.startswith(ACCOUNTS_PREFIX):
            return await http_exception_handler(request, error)
        title = HTTPStatus(error.status_code).phrase
        return problem(error.status_code, title, str(error.detail),
                       headers=dict(error.headers) if error.headers else None)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, error: Exception) -> Response:
        assert isinstance(error, RequestValidationError)
        malformed = [item for item in error.errors() if item.get("type") == "json_invalid"]
        if malformed:  # issue 20, item 15: like the webhook's 400
            where = malformed[0].get("ctx", {}).get("error", "invalid JSON")
            return problem(400, "Malformed JSON", f"the body is not JSON ({where}); send "
                           "a JSON object with Content-Type: application/json")
        errors = []
        for item in error.errors():
            location = [str(p) for p in item.get("loc", ())]
            if location and location[0] in ("body", "query", "path"):
                location = location[1:]
            errors.append({"field": ".".join(location) or "body",
                           "message": str(item.get("msg", "invalid"))})
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return problem(422, "Invalid request", detail or "invalid request", errors=errors)
