"""The operator's view: log in with a console token, every account at a glance (sorted,
paged through :mod:`shared.state.account_index`), the processes alive, the queues, the
Klaviyo endpoints blocked by a 429, and the dead letters (show, replay, purge: the
dead-letter API ``contact-sync dlq`` uses)."""

from __future__ import annotations

import time
from typing import Any

import redis
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from producers.console import auth, login_throttle
from producers.console.links import secret_of
from producers.console.pages import Refused, first, read_form, render, with_query
from producers.console.tokens import csrf_matches, csrf_token
from shared.account_service.settings import summaries
from shared.broker_redis import NOT_ON_RABBITMQ, broker_redis
from shared.klaviyo.rate_limiter import blocked_now
from shared.settings import Settings
from shared.state import account_index, heartbeats
from shared.state.account_status import account_statuses
from shared.state.dead_letters import DeadLetters
from shared.telemetry.broker_stats import events_backlog, queue_depths
from shared.telemetry.rabbitmq_stats import BrokerUnavailable

PAGE_SIZES = (25, 50, 100, 200)
LOGIN_FORM_BYTES = 4096
LETTERS_SHOWN = 200
"""Dead letters listed at once (the oldest); the counts are per queue."""


class OperatorPages:
    def __init__(self, client: redis.Redis, settings: Settings) -> None:
        self.redis = client
        self.settings = settings
        self.router = APIRouter(include_in_schema=False)
        add = self.router.add_api_route
        add("/console/login", self.login_page, methods=["GET"])
        add("/console/login", self.login, methods=["POST"])
        add("/console/logout", self.logout, methods=["POST"])
        add("/console", self.overview, methods=["GET"])
        add("/console/", self.overview, methods=["GET"])
        add("/console/dead-letters", self.dead_letters, methods=["GET"])
        add("/console/dead-letters/replay", self.replay, methods=["POST"])
        add("/console/dead-letters/purge", self.purge, methods=["POST"])
        add("/console/dead-letters/{letter_id}", self.dead_letter, methods=["GET"])

    @property
    def letters(self) -> DeadLetters:
        """The dead letters, on the broker's Redis; refused on RabbitMQ."""
        broker = broker_redis(self.redis)
        if broker is None:
            raise Refused(501, f"Dead letters are {NOT_ON_RABBITMQ}.")
        return DeadLetters(broker)

    def _page(self, name: str, context: dict[str, Any], status: int = 200) -> Response:
        return render(self.settings, name, {"section": "", **context}, status=status)

    def _viewer(self, request: Request) -> auth.Viewer:
        return auth.require_operator(request, self.settings)

    async def _posted(self, request: Request) -> tuple[auth.Viewer, dict[str, list[str]]]:
        viewer = self._viewer(request)
        form = await read_form(request)
        if not csrf_matches(secret_of(self.settings), viewer.nonce, first(form, "csrf")):
            raise Refused(403, "the form's CSRF token is missing or wrong: reload the page "
                          "and send it again")
        return viewer, form

    # --- logging in ---------------------------------------------------------------------
    def login_page(self, request: Request, error: str | None = None,
                   status: int = 200) -> Response:
        if not self.settings.console_tokens:
            raise Refused(404, "the operator's view is off: set SYNC_CONSOLE_TOKENS")
        nonce = auth.login_nonce(request)
        csrf = csrf_token(secret_of(self.settings), nonce)
        response = self._page("login.html", {"viewer": None, "error": error, "csrf": csrf},
                              status)
        auth.set_login_nonce(request, response, nonce)
        return response

    async def login(self, request: Request) -> Response:
        if not self.settings.console_tokens:
            raise Refused(404, "the operator's view is off: set SYNC_CONSOLE_TOKENS")
        nonce = request.cookies.get(auth.LOGIN_COOKIE, "")
        form = await read_form(request, LOGIN_FORM_BYTES)  # the form is the credential
        if not nonce or not csrf_matches(secret_of(self.settings), nonce,
                                         first(form, "csrf")):
            raise Refused(403, "the form's CSRF token is missing or wrong: reload the page "
                          "and send it again")
        wait = await run_in_threadpool(login_throttle.wait_s, self.redis, request)
        if wait:
            refused = self.login_page(request, "Too many failed logins from this address: "
                                      f"try again in {wait} s.", 429)
            refused.headers["Retry-After"] = str(wait)
            return refused
        response = RedirectResponse("/console/", 303)
        if not auth.log_in(request, self.settings, first(form, "token").strip(), response):
            await run_in_threadpool(login_throttle.failed, self.redis, request)
            return self.login_page(request, "That is not one of SYNC_CONSOLE_TOKENS.", 401)
        return response

    async def logout(self, request: Request) -> Response:
        await self._posted(request)
        response = RedirectResponse("/console/login", 303)
        auth.log_out(response)
        return response

    # --- the overview -------------------------------------------------------------------
    def _overview(self, column: str, descending: bool, offset: int, size: int,
                  rebuild: bool) -> dict[str, Any]:
        now = time.time()
        chosen: account_index.Column = column if column in account_index.COLUMNS \
            else "name"
        found = account_index.page(self.redis, chosen, descending, offset, size,
                                   rebuild=rebuild)
        statuses = account_statuses(self.redis, found.accounts, now)
        rows = list(zip(summaries(statuses), [s["rejected"] for s in statuses],
                        strict=True))
        try:
            depths = queue_depths(self.redis)
        except BrokerUnavailable:  # RabbitMQ down: the page shows no queues
            depths = []
        return {"rows": rows, "total": found.total, "built_at": found.built_at,
                "index_ttl": account_index.INDEX_TTL_S, "now": now,
                "processes": heartbeats.beating(self.redis, now),
                "alive": heartbeats.alive(self.redis, now),
                "queues": depths, "dead_total": sum(d.dead for d in depths),
                "backlog": events_backlog(self.redis), "blocked": blocked_now(self.redis, now)}

    async def overview(self, request: Request) -> Response:
        viewer = auth.operator_session(request, self.settings)
        if viewer is None:
            return RedirectResponse("/console/login", 303)
        query = request.query_params
        column = query.get("sort", "name")
        descending = query.get("dir") == "desc"
        size = int(query["size"]) if query.get("size", "").isdigit() and \
            int(query["size"]) in PAGE_SIZES else PAGE_SIZES[1]
        number = max(1, int(query["page"])) if query.get("page", "").isdigit() else 1
        context = await run_in_threadpool(self._overview, column, descending,
                                          (number - 1) * size, size, "refresh" in query)
        pages = max(1, -(-context["total"] // size))

        def link(**change: Any) -> str:
            params = {"sort": column, "dir": "desc" if descending else "asc", "size": size,
                      "page": number, **change}
            return with_query("/console/", **params)

        return self._page("overview.html", {
            "viewer": viewer, "column": column, "descending": descending, "size": size,
            "page": number, "pages": pages, "link": link, "columns": account_index.COLUMNS,
            **context})

    # --- dead letters -------------------------------------------------------------------
    async def dead_letters(self, request: Request) -> Response:
        viewer = auth.operator_session(request, self.settings)
        if viewer is None:
            return RedirectResponse("/console/login", 303)
        queue = request.query_params.get("queue") or None
        dead = self.letters
        letters = await run_in_threadpool(dead.list, queue)
        counts = await run_in_threadpool(dead.count)
        return self._page("dead_letters.html", {
            "viewer": viewer, "letters": letters[:LETTERS_SHOWN], "total": len(letters),
            "counts": counts, "queue": queue, "done": _done(request)})

    async def dead_letter(self, request: Request, letter_id: str) -> Response:
        viewer = auth.operator_session(request, self.settings)
        if viewer is None:
            return RedirectResponse("/console/login", 303)
        letter = await run_in_threadpool(self.letters.get, letter_id[:200])
        if letter is None:
            raise Refused(404, "no such dead letter (replayed or purged meanwhile, or "
                          "expired after 7 days)")
        return self._page("dead_letter.html", {"viewer": viewer, "letter": letter})

    async def replay(self, request: Request) -> Response:
        _, form = await self._posted(request)
        dead = self.letters
        if first(form, "all"):
            queue = first(form, "queue") or None
            count = await run_in_threadpool(dead.replay_all, queue)
        else:
            count = 0
            for letter_id in form.get("ids", [])[:LETTERS_SHOWN]:
                letter = await run_in_threadpool(dead.get, letter_id[:200])
                if letter is not None:
                    count += await run_in_threadpool(dead.replay, letter)
        return RedirectResponse(f"/console/dead-letters?replayed={count}", 303)

    async def purge(self, request: Request) -> Response:
        _, form = await self._posted(request)
        if first(form, "confirm") != "purge":
            raise Refused(422, "tick the confirmation to delete dead letters for good")
        count = await run_in_threadpool(self.letters.purge, first(form, "queue") or None)
        return RedirectResponse(f"/console/dead-letters?purged={count}", 303)


def _done(request: Request) -> str | None:
    for name, verb in (("replayed", "Replayed"), ("purged", "Purged")):
        value = request.query_params.get(name, "")
        if value.isdigit():
            return f"{verb} {int(value)} dead letter(s)."
    return None
