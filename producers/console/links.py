"""Console links, as the account API mints them (``POST /v1/accounts/{a}/console-link``);
kept apart from the pages so the account API imports no page code."""

from __future__ import annotations

import time

from producers.console import tokens
from shared.settings import Settings

LINK_PARAM = "t"


def secret_of(settings: Settings) -> str:
    """``SYNC_CONSOLE_SECRET`` (the console is mounted, and links minted, only with it)."""
    assert settings.console_secret is not None
    return settings.console_secret.get_secret_value()


def console_link(settings: Settings, account: str, base_url: str) -> tuple[str, float]:
    """A link opening ``account``'s console pages, once, within ``SYNC_CONSOLE_LINK_TTL``:
    ``(url, expires at)``."""
    now = time.time()
    link = tokens.mint(secret_of(settings), "link", account, settings.console_link_ttl, now)
    return (f"{base_url.rstrip('/')}/console/open?{LINK_PARAM}={link}",
            float(int(now + settings.console_link_ttl)))
