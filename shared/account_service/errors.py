"""Refusals of the account service. Each carries the HTTP status the account API answers
with (RFC 9457 problem details) and a one-line ``detail`` without any secret."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError


@dataclass(frozen=True)
class FieldError:
    field: str
    """Dotted path of the refused field (``max_bulk_export``, ``contact_roles.0``)."""
    message: str


class ServiceError(Exception):
    status = 400
    title = "Bad request"

    def __init__(self, detail: str, *, errors: list[FieldError] | None = None,
                 code: str | None = None, cli_detail: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []
        self.code = code
        """Klaviyo's error code, when Klaviyo refused."""
        self.cli_detail = cli_detail
        """The same refusal worded for the command line, where its advice differs (the
        API's ``detail`` names a route, the command line's a command)."""

    @property
    def for_cli(self) -> str:
        return self.cli_detail or self.detail


class NotFound(ServiceError):
    status = 404
    title = "Not found"


class Conflict(ServiceError):
    status = 409
    title = "Conflict"


class Invalid(ServiceError):
    status = 422
    title = "Invalid request"


class Unavailable(ServiceError):
    """Klaviyo (or the server's own configuration) cannot serve the request now."""

    status = 503
    title = "Unavailable"


def invalid_field(field: str, message: str) -> Invalid:
    return Invalid(f"{field}: {message}", errors=[FieldError(field, message)])


def field_errors(error: ValidationError) -> Invalid:
    """A pydantic refusal as one :class:`FieldError` per refused field."""
    errors = [FieldError(".".join(str(p) for p in item["loc"]) or "body", item["msg"])
              for item in error.errors()]
    return Invalid("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors)
