"""The small request/reply types the handlers use, and the route table type."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from sandbox.errors import invalid

if TYPE_CHECKING:
    from sandbox.state import SandboxState
    from sandbox.store import Account


OVERSIZE = b"\x00body over the sandbox's read limit"


@dataclass
class Reply:
    """A status, a JSON body (None for no body) and extra headers."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Request:
    """What a handler sees: path params, decoded query, body, the caller's account."""

    method: str
    path: str
    params: dict[str, str]
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    base: str
    state: SandboxState
    account: Account | None = None

    def json(self) -> Any:
        """The JSON body, or 400 naming the problem."""
        if not self.body or self.body is OVERSIZE:
            raise invalid("The payload provided in the request is invalid.", pointer="/data")
        try:
            return orjson.loads(self.body)
        except orjson.JSONDecodeError:
            raise invalid(
                "The payload provided in the request is invalid.", pointer="/data"
            ) from None

    def too_large(self, limit: int) -> bool:
        """Whether the body is over ``limit`` bytes."""
        return self.body is OVERSIZE or len(self.body) > limit

    @property
    def acct(self) -> Account:
        """The authenticated account (always set for /api routes)."""
        assert self.account is not None
        return self.account


Handler = Callable[[Request], Reply]


@dataclass(frozen=True)
class Route:
    """One endpoint: method, path template, operation name (the SDK's), handler."""

    method: str
    template: str
    operation: str
    handler: Handler

    def compile(self) -> re.Pattern[str]:
        """``/api/lists/{id}`` -> a regex with named groups, trailing slash optional."""
        pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.template)
        return re.compile(f"^{pattern}/?$")


def data_object(body: Any, expected_type: str | None = None) -> dict[str, Any]:
    """``body["data"]`` as an object with the right ``type``, or 400 with a pointer."""
    if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
        raise invalid("The payload provided in the request is invalid.", pointer="/data")
    data: dict[str, Any] = body["data"]
    if expected_type is not None and data.get("type") != expected_type:
        raise invalid(f"'type' must be '{expected_type}'.", pointer="/data/type")
    return data


def attributes_of(data: dict[str, Any]) -> dict[str, Any]:
    """``data.attributes`` as an object, or 400."""
    attrs = data.get("attributes")
    if not isinstance(attrs, dict):
        raise invalid("'attributes' is required and must be an object.", pointer="/data/attributes")
    return attrs


def profile_rows(attrs: dict[str, Any], limit: int, too_many: str) -> list[Any]:
    """``attributes.profiles.data`` of a bulk call: a non-empty array of at most ``limit``
    rows, or 400; ``too_many`` words that refusal (its ``{got}`` is the count)."""
    profiles = attrs.get("profiles")
    rows = profiles.get("data") if isinstance(profiles, dict) else None
    pointer = "/data/attributes/profiles/data"
    if not isinstance(rows, list) or not rows:
        raise invalid("'profiles.data' must be a non-empty array.", pointer=pointer)
    if len(rows) > limit:
        raise invalid(too_many.format(got=len(rows)), pointer=pointer)
    return rows
