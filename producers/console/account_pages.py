"""One account's pages: the settings page (embeddable in the CRM) and the sync screen.

Everything goes through :mod:`shared.account_service`, the service behind the account
API: the count is its preview, saving is its settings change, the history its syncs.
Contacts appear by their CRM id only.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import redis
from fastapi import APIRouter, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from producers.console.auth import Viewer, account_viewer, open_link
from producers.console.chart import history_chart
from producers.console.pages import Refused, first, read_form, render
from producers.console.tokens import csrf_matches
from shared.account_service import connection, field_map_form, preview, rejections, syncs
from shared.account_service import settings as account_settings
from shared.account_service.accounts import existing
from shared.account_service.errors import Conflict, ServiceError, invalid_field
from shared.account_service.models import NextSyncComputing
from shared.account_service.next_sync import next_sync_plan
from shared.accounts import ACCOUNT_NAME, DEFAULT_ACCOUNT
from shared.klaviyo.oauth_flow import ReturnToRefused, start
from shared.klaviyo.oauth_http import OAuthNotConfigured
from shared.planning.dry_run import KINDS
from shared.settings import Settings
from shared.state.consent_deliveries import consent_deliveries
from shared.state.contact_facets import facet_values

AccountPath = Annotated[str, Path(pattern=ACCOUNT_NAME.pattern)]
STREAM_ID = re.compile(r"^[0-9]{1,20}-[0-9]{1,20}$")
REJECTED_SHOWN = 500
"""Rejected contacts listed on the sync screen (the newest)."""


class AccountPages:
    """The routes of one account's pages, over the web's Redis client and settings."""

    def __init__(self, client: redis.Redis, settings: Settings) -> None:
        self.redis = client
        self.settings = settings
        self.router = APIRouter(include_in_schema=False)
        add = self.router.add_api_route
        add("/console/open", self.open, methods=["GET"])
        add("/console/accounts/{account}/settings", self.settings_page, methods=["GET"])
        add("/console/accounts/{account}/settings", self.save, methods=["POST"])
        add("/console/accounts/{account}/preview", self.preview, methods=["GET"])
        add("/console/accounts/{account}/field-map", self.save_field_map, methods=["POST"])
        add("/console/accounts/{account}/klaviyo-key", self.set_key, methods=["POST"])
        add("/console/accounts/{account}/disconnect", self.disconnect, methods=["POST"])
        add("/console/accounts/{account}/oauth", self.oauth, methods=["POST"])
        add("/console/accounts/{account}/syncs", self.syncs_page, methods=["GET"])
        add("/console/accounts/{account}/syncs/{batch_id}", self.sync_detail,
            methods=["GET"])
        add("/console/accounts/{account}/sync-now", self.sync_now, methods=["POST"])
        add("/console/accounts/{account}/rejected/replay", self.replay, methods=["POST"])
        add("/console/accounts/{account}/chart.svg", self.chart, methods=["GET"])

    # --- plumbing ---------------------------------------------------------------------------
    def _page(self, name: str, context: dict[str, Any], status: int = 200) -> Response:
        return render(self.settings, name, context, status=status, embeddable=True)

    async def _posted(self, request: Request, account: str) -> tuple[Viewer,
                                                                     dict[str, list[str]]]:
        """The viewer (checked first), then the form, then its CSRF token."""
        viewer = account_viewer(request, self.settings, account)
        form = await read_form(request)
        secret = self.settings.console_secret
        assert secret is not None
        if not csrf_matches(secret.get_secret_value(), viewer.nonce, first(form, "csrf")):
            raise Refused(403, "the form's CSRF token is missing or wrong: reload the page "
                          "and send it again")
        return viewer, form

    def _back(self, viewer: Viewer, account: str, page: str, **params: object) -> Response:
        return RedirectResponse(viewer.url(f"/console/accounts/{account}/{page}", **params),
                                303)

    # --- opening a link -----------------------------------------------------------------
    def open(self, t: str = "") -> Response:
        """A console link: checked, spent, and exchanged for the account's page token."""
        account, page = open_link(self.redis, self.settings, t)
        return RedirectResponse(f"/console/accounts/{account}/settings?s={page}", 303)

    # --- the settings page --------------------------------------------------------------
    def _proposal(self, request: Request) -> dict[str, Any] | None:
        """Filters proposed in the query (the count before saving), or ``None``."""
        query = request.query_params
        if "proposed" not in query:
            return None
        cap = query.get("max_bulk_export", "").strip()
        return {"contact_roles": query.getlist("contact_roles") or None,
                "company_types": query.getlist("company_types") or None,
                "max_bulk_export": cap if cap else 0}

    def _counts(self, account: str, proposed: dict[str, Any] | None) -> dict[str, Any]:
        try:
            return {"counts": preview.preview_counts(self.redis, self.settings, account,
                                                     proposed), "count_error": None}
        except ServiceError as error:
            return {"counts": None, "count_error": error.detail}

    def _settings_context(self, viewer: Viewer, account: str,
                          proposed: dict[str, Any] | None) -> dict[str, Any]:
        current = account_settings.get_account(self.redis, self.settings, account)
        shown = current.model_dump()
        if proposed:
            shown.update({k: v for k, v in proposed.items() if k != "max_bulk_export"})
            shown["max_bulk_export"] = proposed["max_bulk_export"]
        values = facet_values(self.redis, account)
        try:
            lists, lists_error = connection.klaviyo_lists(self.redis, self.settings,
                                                          account), None
        except ServiceError as error:
            lists, lists_error = None, error.detail
        oauth = bool(self.settings.oauth_client_id and self.settings.oauth_client_secret)
        return {"viewer": viewer, "account": account, "current": current, "shown": shown,
                "roles": _options(values.contact_roles, shown["contact_roles"]),
                "types": _options(values.company_types, shown["company_types"]),
                "lists": lists, "lists_error": lists_error, "oauth": oauth,
                "field_map_rows": field_map_form.rows(current.field_map),
                "field_map_text": field_map_form.as_text(current.field_map),
                "field_map_error": None,
                "section": "settings", **self._counts(account, proposed)}

    async def settings_page(self, request: Request, account: AccountPath) -> Response:
        viewer = account_viewer(request, self.settings, account)
        proposed = self._proposal(request)
        context = await run_in_threadpool(self._settings_context, viewer, account, proposed)
        context["notice"] = _notice(request)
        return self._page("settings.html", context)

    async def preview(self, request: Request, account: AccountPath) -> Response:
        """The counts block for the filters in the query (htmx swaps it in as they
        change, before anything is saved)."""
        viewer = account_viewer(request, self.settings, account)
        proposed = self._proposal(request) or {}
        counts = await run_in_threadpool(self._counts, account, proposed)
        return self._page("_counts.html", {"viewer": viewer, **counts})

    async def save(self, request: Request, account: AccountPath) -> Response:
        viewer, form = await self._posted(request, account)
        cap = first(form, "max_bulk_export").strip()
        changes: dict[str, Any] = {
            "contact_roles": [v for v in form.get("contact_roles", []) if v] or None,
            "company_types": [v for v in form.get("company_types", []) if v] or None,
            "max_bulk_export": cap if cap else 0}
        if "default_list_id" in form:
            changes["default_list_id"] = first(form, "default_list_id") or None
        try:
            await run_in_threadpool(self._store, account, changes)
        except ServiceError as error:
            context = await run_in_threadpool(self._settings_context, viewer, account,
                                              {**changes, "max_bulk_export": cap or 0})
            context["error"] = error.detail
            return self._page("settings.html", context, status=error.status)
        return self._back(viewer, account, "settings", done="saved")

    async def save_field_map(self, request: Request, account: AccountPath) -> Response:
        """The field map's own form: its JSON (empty: no map) stored as ``field_map``
        through the same service as the account API (a bad map: the API's 422 message)."""
        viewer, form = await self._posted(request, account)
        text = first(form, "field_map")
        try:
            await run_in_threadpool(self._store, account,
                                    {"field_map": field_map_form.parse_text(text)})
        except ServiceError as error:
            context = await run_in_threadpool(self._settings_context, viewer, account, None)
            context.update(error=error.detail, field_map_text=text,
                           field_map_error=error.detail)
            return self._page("settings.html", context, status=error.status)
        return self._back(viewer, account, "settings", done="field_map")

    def _store(self, account: str, changes: dict[str, Any]) -> None:
        """Through the account API's service: an account known from its events only is
        created by its first save (PUT), a stored one changed (PATCH)."""
        if existing(self.redis, self.settings, account).configured \
                or account == DEFAULT_ACCOUNT:
            account_settings.patch_settings(self.redis, self.settings, account, changes)
        else:
            account_settings.put_settings(self.redis, self.settings, account, changes)

    async def _refused(self, viewer: Viewer, account: str, error: ServiceError) -> Response:
        context = await run_in_threadpool(self._settings_context, viewer, account, None)
        context["error"] = error.detail
        return self._page("settings.html", context, status=error.status)

    async def set_key(self, request: Request, account: AccountPath) -> Response:
        viewer, form = await self._posted(request, account)
        try:
            await run_in_threadpool(connection.set_klaviyo_key, self.redis, self.settings,
                                    account, first(form, "api_key"))
        except ServiceError as error:
            return await self._refused(viewer, account, error)
        return self._back(viewer, account, "settings", done="key")

    async def disconnect(self, request: Request, account: AccountPath) -> Response:
        viewer, _ = await self._posted(request, account)
        try:
            await run_in_threadpool(connection.disconnect_klaviyo, self.redis,
                                    self.settings, account)
        except ServiceError as error:
            return await self._refused(viewer, account, error)
        return self._back(viewer, account, "settings", done="disconnected")

    async def oauth(self, request: Request, account: AccountPath) -> Response:
        """To Klaviyo's authorize page; back to this page afterwards (its origin must be
        one of ``SYNC_OAUTH_RETURN_ORIGINS``)."""
        viewer, _ = await self._posted(request, account)
        base = (self.settings.public_url or str(request.base_url)).rstrip("/")
        back = base + viewer.url(f"/console/accounts/{account}/settings")
        try:
            url = await run_in_threadpool(start, self.redis, self.settings, account, back)
        except (ReturnToRefused, OAuthNotConfigured) as error:
            return await self._refused(viewer, account, Conflict(str(error)))
        return RedirectResponse(url, 303)

    # --- the sync screen ----------------------------------------------------------------
    def _syncs_context(self, viewer: Viewer, account: str,
                       consent_before: str | None = None) -> dict[str, Any]:
        history = syncs.history(self.redis, self.settings, account, syncs.HISTORY_KEPT)
        rejected = rejections.rejected(self.redis, self.settings, account)
        return {"viewer": viewer, "account": account, "history": history,
                "chart": history_chart(history), "rejected": rejected[:REJECTED_SHOWN],
                "rejected_total": len(rejected), "section": "syncs",
                "consent": consent_deliveries(self.redis, account, consent_before),
                "consent_before": consent_before, **self._dry_run(account)}

    def _dry_run(self, account: str) -> dict[str, Any]:
        """The next sync's dry run, as the account API's ``GET .../syncs/next`` answers
        it: planned now, or (a big account) being computed."""
        try:
            found = next_sync_plan(self.redis, self.settings, account)
        except ServiceError as error:
            return {"dry_run": None, "dry_run_wait": None, "dry_run_error": error.detail}
        if isinstance(found, NextSyncComputing):
            return {"dry_run": None, "dry_run_wait": found, "dry_run_error": None}
        return {"dry_run": found.model_dump(), "dry_run_wait": None, "dry_run_error": None,
                "dry_run_kinds": KINDS}

    async def syncs_page(self, request: Request, account: AccountPath) -> Response:
        viewer = account_viewer(request, self.settings, account)
        before = request.query_params.get("consent_before", "")
        context = await run_in_threadpool(self._syncs_context, viewer, account,
                                          before if STREAM_ID.match(before) else None)
        context["notice"] = _notice(request)
        return self._page("syncs.html", context)

    async def sync_detail(self, request: Request, account: AccountPath,
                          batch_id: Annotated[str, Path(max_length=200)]) -> Response:
        viewer = account_viewer(request, self.settings, account)
        found = await run_in_threadpool(syncs.detail, self.redis, self.settings, account,
                                        batch_id)
        return self._page("sync_detail.html", {"viewer": viewer, "account": account,
                                               "sync": found, "section": "syncs"})

    async def sync_now(self, request: Request, account: AccountPath) -> Response:
        viewer, _ = await self._posted(request, account)
        try:
            asked = await run_in_threadpool(syncs.sync_now, self.redis, self.settings,
                                            account)
        except ServiceError as error:
            return await self._syncs_refused(viewer, account, error)
        return self._back(viewer, account, "syncs",
                          done="sync" if asked.requested else "nothing")

    async def _syncs_refused(self, viewer: Viewer, account: str,
                             error: ServiceError) -> Response:
        context = await run_in_threadpool(self._syncs_context, viewer, account)
        context["error"] = error.detail
        return self._page("syncs.html", context, status=error.status)

    async def replay(self, request: Request, account: AccountPath) -> Response:
        viewer, form = await self._posted(request, account)
        ids = None if first(form, "all") else [v for v in form.get("contact_ids", []) if v]
        if ids == []:
            return await self._syncs_refused(viewer, account, invalid_field(
                "contact_ids", "tick the contacts to replay, or replay all"))
        done = await run_in_threadpool(rejections.replay, self.redis, self.settings,
                                       account, ids)
        return self._back(viewer, account, "syncs", done="replayed", n=len(done.replayed))

    async def chart(self, request: Request, account: AccountPath) -> Response:
        account_viewer(request, self.settings, account)
        history = await run_in_threadpool(syncs.history, self.redis, self.settings, account,
                                          syncs.HISTORY_KEPT)
        return Response(history_chart(history), media_type="image/svg+xml",
                        headers={"Cache-Control": "no-store",
                                 "X-Content-Type-Options": "nosniff"})


def _options(seen: dict[str, int], chosen: list[str] | None) -> list[dict[str, Any]]:
    """The drop-down's options: every value the account's contacts have (with how many),
    plus chosen values no contact has (yet)."""
    picked = {value.strip().casefold() for value in chosen or []}
    options = [{"value": value, "count": count, "selected": value.casefold() in picked}
               for value, count in seen.items()]
    known = {value.casefold() for value in seen}
    options += [{"value": value, "count": 0, "selected": True}
                for value in chosen or [] if value.strip().casefold() not in known]
    return options


NOTICES = {"saved": "Saved.", "field_map": "Field map saved.", "key": "Klaviyo key stored.",
           "disconnected": "Disconnected from Klaviyo.",
           "sync": "Sync requested: the next batch starts at the scheduler's next tick.",
           "nothing": "Nothing is pending: there is no batch to start.",
           "replayed": "{n} contact(s) back in pending for the next sync."}


def _notice(request: Request) -> str | None:
    """The outcome of the last form, named by a code in the redirect's query (a page never
    shows text taken from its URL)."""
    query = request.query_params
    if query.get("connected") == "1":  # back from Klaviyo (docs/OAUTH.md)
        return "Connected to Klaviyo."
    if "error" in query:
        return "The Klaviyo connection did not complete: nothing was connected."
    template = NOTICES.get(query.get("done", ""))
    if template is None:
        return None
    count = query.get("n", "0")
    return template.format(n=int(count) if count.isdigit() else 0)
