"""What the web checks before it reads any request other than the webhook's (issue 19).

The webhook has :mod:`producers.web_guard`; every other request passes this ASGI
middleware first, so that no client without a token can make ``web`` hold a body:

1. under ``/v1/accounts`` (when the account API is on), a missing or wrong
   ``Authorization: Bearer`` is refused (401 problem) at once, the body unread (the HTTP
   protocol drains and drops what the client still sends, :mod:`producers.http_protocol`);
2. a body over the route's limit (:func:`body_limit`: 1 MiB for a replay of up to 10,000
   contact ids, 64 KiB for the account API's other routes and the console's forms, nothing
   at all elsewhere: no other route takes a body) is
   refused with 413, from ``Content-Length`` unread, or as soon as the streamed bytes
   pass it;
3. the body must arrive whole within ``SYNC_WEB_BODY_TIMEOUT`` seconds (else 408).

The app then gets the body as one message. Refusals are RFC 9457 problems, like the
account API's other answers.
"""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Receive, Scope, Send

from producers.account_api.auth import refusal
from producers.account_api.problems import ACCOUNTS_PREFIX, problem
from producers.web_guard import BodyRefusal, header, read_body, replay

log = logging.getLogger(__name__)


BODY_LIMIT = 64 * 1024
"""The most an account API request but a replay may send (an account's settings are a few
hundred bytes)."""
REPLAY_BODY_LIMIT = 1024 * 1024
"""``POST .../rejected/replay``: up to 10,000 contact ids."""


CONSOLE_PREFIX = "/console/"
"""The browser console's forms (:mod:`producers.console`, its own session check): capped
like the account API's bodies."""


def body_limit(path: str, *, in_account_api: bool) -> int:
    """The most bytes a request to ``path`` may send."""
    if path.startswith(CONSOLE_PREFIX):
        return BODY_LIMIT
    if not in_account_api:
        return 0
    return REPLAY_BODY_LIMIT if path.endswith("/rejected/replay") else BODY_LIMIT


class RequestGuard:
    """See the module docstring; ``skip`` is the webhook's (method, path), left to its own
    guard; ``tokens`` empty: the account API is off (its paths are 404s)."""

    def __init__(self, app: ASGIApp, *, tokens: list[str], body_timeout: float,
                 skip: tuple[str, str]) -> None:
        self.app = app
        self.tokens = list(tokens)
        self.body_timeout = body_timeout
        self.skip = skip

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (scope["method"], scope["path"]) == self.skip:
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        in_account_api = path == ACCOUNTS_PREFIX or path.startswith(ACCOUNTS_PREFIX + "/")
        if in_account_api and not self.tokens:  # the API is off: a 404, the body unread
            await self.app(scope, replay(b"", receive), send)
            return
        if in_account_api:
            refused = refusal(header(scope, b"authorization"), self.tokens)
            if refused:
                log.info("refused %s %s with 401 before reading its body", scope["method"],
                         path)
                response = problem(401, "Unauthorized", refused,
                                   headers={"WWW-Authenticate": "Bearer"})
                await response(scope, receive, send)
                return
        limit = body_limit(path, in_account_api=in_account_api)
        body = await read_body(scope, receive, limit, self.body_timeout)
        if body is None:
            return  # the client went away
        if isinstance(body, BodyRefusal):
            if body is BodyRefusal.TIMEOUT:
                log.warning("refused %s %s with 408: body not whole in %g s",
                            scope["method"], path, self.body_timeout)
                response = problem(408, "Request timeout", f"the request body did not "
                                   f"arrive within {self.body_timeout:g} s "
                                   "(SYNC_WEB_BODY_TIMEOUT); nothing was changed")
            else:
                response = problem(413, "Content too large", f"the request body is over "
                                   f"{limit} bytes, the most this route takes; nothing was "
                                   "changed")
            await response(scope, receive, send)
            return
        await self.app(scope, replay(body, receive), send)
