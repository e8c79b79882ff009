"""``POST /v1/accounts/{account}/console-link``: a short-lived signed link to the account's
console pages (docs/CONSOLE.md), for the CRM to open in its own settings screen."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict

from producers.account_api.deps import AccountName, ServicesDep
from producers.console.links import console_link as mint_console_link
from shared.account_service.accounts import existing
from shared.account_service.errors import NotFound

router = APIRouter(tags=["console"])


class ConsoleLink(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "url": "https://sync.example.com/console/open?t=eyJrIjoi...",
        "expires_at": "2026-11-22T10:05:00Z"}]})

    url: str
    """Opens the account's settings page once, before ``expires_at``; for this account only.
    Put it in an iframe of the CRM (an origin of ``SYNC_CONSOLE_FRAME_ANCESTORS``) or open
    it in a new window."""
    expires_at: datetime


@router.post("/v1/accounts/{account}/console-link", response_model=ConsoleLink,
             summary="A short-lived link to the account's settings page in the console")
def console_link(account: AccountName, svc: ServicesDep, request: Request) -> ConsoleLink:
    existing(svc.redis, svc.settings, account)
    if svc.settings.console_secret is None:
        raise NotFound("no console here: SYNC_CONSOLE_SECRET is not set on the server (like "
                       "every /console path, this is off)")
    base = svc.settings.public_url or str(request.base_url)
    url, expires = mint_console_link(svc.settings, account, base)
    return ConsoleLink(url=url, expires_at=datetime.fromtimestamp(expires, UTC))
