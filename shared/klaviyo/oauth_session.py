"""Access tokens for the calls of one OAuth account: fresh before each call, refreshed once
per account across every worker, and once more after a 401.

:meth:`OAuthSession.prepare` gives the SDK client a token that is not about to expire: the
one this process holds, else the one in Redis, else a refresh. A refresh takes the
account's lock in Redis (:func:`shared.constants.oauth_refresh_lock`, ``SET NX PX``) so one
process refreshes while the others wait a moment and read its result; under the lock the
tokens are read again (somebody may just have refreshed) and the answer -- with its rotated
refresh token -- is stored before the new access token is used, since the old refresh token
may already be dead. :meth:`OAuthSession.after_refusal` refreshes after a 401 (unless
another worker already did). A refresh Klaviyo refuses with ``invalid_grant`` marks the
account ``reconnect_needed`` and raises :class:`ReconnectNeeded`: its batch stops, its
changes wait in pending, nobody is rejected, until a new connection.

If a process dies between Klaviyo's answer and the store, the rotated refresh token is lost
and the next refresh is refused: the account then asks to be reconnected (nothing is lost).
"""

from __future__ import annotations

import logging
import secrets
import time
from typing import Any

import redis

from shared import constants as keys
from shared.accounts import AccountConfig
from shared.klaviyo.errors import AccountRefused, RateLimited, ReconnectNeeded, Transient
from shared.klaviyo.oauth_http import OAuthRefused, OAuthUnavailable, refresh_tokens
from shared.klaviyo.oauth_tokens import (
    OAuthTokens,
    mark_reconnect_needed,
    read_tokens,
    save_tokens,
)
from shared.lua_scripts import lua_script
from shared.settings import Settings

log = logging.getLogger(__name__)
LOCK_TTL_MS = 30_000
"""Longer than a token call can take (its timeout is 10 s): a dead holder's lock expires."""
LOCK_WAIT_S = 5.0
"""How long a worker waits for another's refresh before it gives up for now (RateLimited:
the message comes back in a second)."""
POLL_S = 0.05
_held: dict[str, OAuthTokens] = {}
"""account -> the newest tokens this process saw (saves a Redis read per call)."""


RELEASE_LOCK = lua_script(__file__, "oauth_lock_release.lua")
"""Deletes the lock only while this holder still owns it."""


class OAuthSession:
    """The token source of one OAuth account's SDK client (``api``)."""

    def __init__(self, client: redis.Redis, settings: Settings, account: str,
                 api: Any) -> None:
        self.redis = client
        self.settings = settings
        self.account = account
        self.api = api
        self._used = ""

    def prepare(self, operation: str) -> None:
        """Put a usable access token on the SDK client before a call."""
        self._use(self._current(operation))

    def after_refusal(self, operation: str) -> None:
        """Klaviyo answered 401 to the token just used: a refreshed one for the retry."""
        self._use(self._refresh(operation, stale=self._used))

    def _use(self, tokens: OAuthTokens) -> None:
        _held[self.account] = tokens
        self._used = tokens.access_token
        self.api.configuration.access_token = tokens.access_token

    def _read(self, operation: str) -> OAuthTokens:
        stored = read_tokens(self.redis, self.account, self.settings.secret_key)
        if stored is None:
            raise ReconnectNeeded(operation, "the account is not connected to Klaviyo")
        return stored

    def _current(self, operation: str) -> OAuthTokens:
        now = time.time()
        held = _held.get(self.account)
        if held is not None and held.fresh(now):
            return held
        stored = self._read(operation)
        if stored.fresh(now):
            return stored
        return self._refresh(operation, stale=stored.access_token)

    def _refresh(self, operation: str, stale: str) -> OAuthTokens:
        """Tokens newer than ``stale``: refreshed here under the lock, or by another."""
        lock = keys.oauth_refresh_lock(self.account)
        owner = secrets.token_hex(8)
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            if self.redis.set(lock, owner, nx=True, px=LOCK_TTL_MS):
                try:
                    return self._refresh_locked(operation, stale)
                finally:
                    RELEASE_LOCK(self.redis, keys=[lock], args=[owner])
            time.sleep(POLL_S)
            stored = self._read(operation)
            if stored.access_token != stale and stored.fresh(time.time()):
                return stored
            if time.monotonic() > deadline:
                raise RateLimited(operation, 1.0)

    def _refresh_locked(self, operation: str, stale: str) -> OAuthTokens:
        stored = self._read(operation)
        if stored.access_token != stale and stored.fresh(time.time()):
            return stored  # another worker refreshed while this one waited for the lock
        try:
            fresh = refresh_tokens(self.settings, stored.refresh_token)
        except OAuthRefused as refused:
            if refused.error == "invalid_grant":
                mark_reconnect_needed(self.redis, self.account, refused.description)
                log.warning("account %s: Klaviyo refused the OAuth refresh (invalid_grant); "
                            "it must be reconnected, its changes wait", self.account)
                raise ReconnectNeeded(operation, refused.description) from None
            raise AccountRefused(operation, refused.status, refused.error,
                                 "Klaviyo refused the OAuth refresh",
                                 refused.description) from None
        except OAuthUnavailable as error:
            raise Transient(operation, str(error)) from None
        with self.redis.pipeline(transaction=True) as pipe:
            save_tokens(pipe, self.account, fresh, self.settings.secret_key)
            pipe.execute()
        log.info("account %s: OAuth tokens refreshed", self.account)
        return fresh


def session_for(client: redis.Redis, settings: Settings, account: AccountConfig,
                api: Any) -> OAuthSession | None:
    """The token source of an OAuth account's SDK client; None for a key's."""
    return OAuthSession(client, settings, account.name, api) if account.oauth_connected \
        else None
