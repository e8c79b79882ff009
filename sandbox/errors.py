"""Klaviyo's error envelope and the exception the handlers raise to produce it."""

from __future__ import annotations

import uuid
from typing import Any

TITLES = {
    400: ("invalid", "Invalid input."),
    401: ("not_authenticated", "Authentication credentials were not provided."),
    403: ("permission_denied", "You do not have permission to perform this action."),
    404: ("not_found", "Not found."),
    405: ("method_not_allowed", "Method not allowed."),
    409: ("duplicate_profile", "Conflict."),
    413: ("payload_too_large", "Payload too large."),
    429: ("throttled", "Request was throttled."),
    500: ("error", "A server error occurred."),
    503: ("service_unavailable", "Service unavailable."),
}


def error_object(
    status: int,
    detail: str,
    *,
    code: str | None = None,
    title: str | None = None,
    pointer: str | None = None,
    parameter: str | None = None,
    meta: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One entry of ``errors``: id, status, code, title, detail, source, links, meta."""
    default_code, default_title = TITLES.get(status, ("error", "Error."))
    source: dict[str, str] = {}
    if pointer is not None:
        source["pointer"] = pointer
    if parameter is not None:
        source["parameter"] = parameter
    obj: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "status": status,
        "code": code or default_code,
        "title": title or default_title,
        "detail": detail,
        "source": source,
        "links": {},
        "meta": meta or {},
    }
    return obj


class ApiError(Exception):
    """Raised by a handler; the app turns it into ``{"errors": [...]}`` with ``status``."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        code: str | None = None,
        title: str | None = None,
        pointer: str | None = None,
        parameter: str | None = None,
        meta: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.headers = headers or {}
        self.body = {
            "errors": [
                error_object(
                    status,
                    detail,
                    code=code,
                    title=title,
                    pointer=pointer,
                    parameter=parameter,
                    meta=meta,
                )
            ]
        }


def invalid(detail: str, pointer: str | None = "/data", parameter: str | None = None) -> ApiError:
    """400 ``invalid`` naming the offending field by pointer or query parameter."""
    if parameter is not None:
        pointer = None
    return ApiError(400, detail, pointer=pointer, parameter=parameter)


def not_found(detail: str = "Not found.") -> ApiError:
    """404 ``not_found``."""
    return ApiError(404, detail)


def duplicate(profile_id: str) -> ApiError:
    """409 ``duplicate_profile`` carrying the existing profile's id in ``meta``."""
    return ApiError(
        409,
        "A profile already exists with one of these identifiers.",
        pointer="/data/attributes",
        meta={"duplicate_profile_id": profile_id},
    )
