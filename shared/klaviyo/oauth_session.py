"""Access tokens for the calls of one OAuth account: fresh before each call, refreshed once
per connection across every worker, and once more after a 401.

:meth:`OAuthSession.prepare` gives the SDK client a token that is not about to expire: the
one this process holds while the account's connection id in Redis is still that token's
(one ``HGET`` per call: a reconnect, disconnect or delete takes effect in every process at
its next call), else the one in Redis, else a refresh. A refresh takes the connection's
lock in Redis (:func:`shared.constants.oauth_refresh_lock`, ``SET NX PX``) so one
process refreshes while the others wait a moment and read its result; under the lock the
tokens are read again (somebody may just have refreshed) and the answer -- with its rotated
refresh token -- is stored before the new access token is used, since the old refresh token
may already be dead; it is stored only if the connection is still the one refreshed
(:func:`shared.klaviyo.oauth_tokens.save_if_current`), else revoked at Klaviyo.
:meth:`OAuthSession.after_refusal` refreshes after a 401 (unless
another worker already did). A refresh Klaviyo refuses with ``invalid_grant`` marks the
account ``reconnect_needed`` and raises :class:`ReconnectNeeded`: its batch stops, its
changes wait in pending, nobody is rejected, until a new connection.

If a process dies between Klaviyo's answer and the store, the rotated refresh token is lost
and the next refresh is refused: the account then asks to be reconnected (nothing is lost).
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import time
from dataclasses import replace
from typing import Any

import redis

from shared import constants as keys
from shared import token_lock
from shared.accounts import AccountConfig
from shared.klaviyo.errors import AccountRefused, RateLimited, ReconnectNeeded, Transient
from shared.klaviyo.oauth_http import (
    OAuthNotConfigured,
    OAuthRefused,
    OAuthUnavailable,
    refresh_tokens,
    revoke_token,
)
from shared.klaviyo.oauth_tokens import (
    OAuthTokens,
    connection_of,
    mark_reconnect_needed,
    read_tokens,
    save_if_current,
)
from shared.settings import Settings

log = logging.getLogger(__name__)
LOCK_TTL_MS = 30_000
"""Longer than a token call can take (its timeout is 10 s): a dead holder's lock expires."""
LOCK_WAIT_S = 5.0
"""How long a worker waits for another's refresh before it gives up for now (RateLimited:
the message comes back in a second)."""
POLL_S = 0.05


class HeldTokens:
    """The newest tokens this process saw, by account and connection (saves a Redis read and
    a decryption per call). An entry serves only the connection it came from: a caller
    gives the account's current connection id, read from Redis before each use."""

    def __init__(self) -> None:
        self._by_account: dict[str, OAuthTokens] = {}

    def get(self, account: str, connection: str | None) -> OAuthTokens | None:
        held = self._by_account.get(account)
        if held is None or connection is None or held.connection != connection:
            return None
        return held

    def put(self, account: str, tokens: OAuthTokens) -> None:
        """Keep ``tokens`` (of their connection); an older connection's entry goes."""
        self._by_account[account] = tokens


_held = HeldTokens()
"""Deletes the lock only while this holder still owns it."""


class OAuthSession:
    """The token source of one OAuth account's SDK client (``api``)."""

    def __init__(self, client: redis.Redis, settings: Settings, account: str,
                 api: Any) -> None:
        self.redis = client
        self.settings = settings
        self.account = account
        self.api = api
        self._used: OAuthTokens | None = None

    def prepare(self, operation: str) -> None:
        """Put a usable access token on the SDK client before a call."""
        self._use(self._current(operation))

    def after_refusal(self, operation: str) -> None:
        """Klaviyo answered 401 to the token just used: a refreshed one for the retry."""
        stale = self._used if self._used is not None else self._read(operation)
        self._use(self._refresh(operation, stale))

    def _use(self, tokens: OAuthTokens) -> None:
        _held.put(self.account, tokens)
        self._used = tokens
        self.api.configuration.access_token = tokens.access_token

    def _read(self, operation: str) -> OAuthTokens:
        stored = read_tokens(self.redis, self.account, self.settings.secret_key)
        if stored is None:
            raise ReconnectNeeded(operation, "the account is not connected to Klaviyo")
        return stored

    def _current(self, operation: str) -> OAuthTokens:
        """The held tokens while the account's connection is still theirs (one ``HGET``),
        else the stored ones, else a refresh."""
        now = time.time()
        held = _held.get(self.account, connection_of(self.redis, self.account))
        if held is not None and held.fresh(now):
            return held
        stored = self._read(operation)
        if stored.fresh(now):
            return stored
        return self._refresh(operation, stored)

    def _refresh(self, operation: str, stale: OAuthTokens) -> OAuthTokens:
        """Tokens newer than ``stale``: refreshed here under the lock of its connection, or
        by another process."""
        lock = keys.oauth_refresh_lock(self.account, stale.connection)
        owner = secrets.token_hex(8)
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            if self.redis.set(lock, owner, nx=True, px=LOCK_TTL_MS):
                try:
                    return self._refresh_locked(operation, stale)
                finally:
                    token_lock.release(self.redis, lock, owner)
            time.sleep(POLL_S)
            stored = self._read(operation)
            if stored.access_token != stale.access_token and stored.fresh(time.time()):
                return stored
            if time.monotonic() > deadline:
                raise RateLimited(operation, 1.0)

    def _refresh_locked(self, operation: str, stale: OAuthTokens) -> OAuthTokens:
        stored = self._read(operation)
        if stored.access_token != stale.access_token and stored.fresh(time.time()):
            return stored  # another worker refreshed (or the account reconnected)
        if stored.connection != stale.connection:
            return self._after_change(operation)
        try:
            fresh = refresh_tokens(self.settings, stored.refresh_token)
        except OAuthRefused as refused:
            if refused.error != "invalid_grant":
                raise AccountRefused(operation, refused.status, refused.error,
                                     "Klaviyo refused the OAuth refresh",
                                     refused.description) from None
            if not mark_reconnect_needed(self.redis, self.account, stored.connection,
                                         refused.description):
                return self._after_change(operation)  # that grant was replaced meanwhile
            log.warning("account %s: Klaviyo refused the OAuth refresh (invalid_grant); "
                        "it must be reconnected, its changes wait", self.account)
            raise ReconnectNeeded(operation, refused.description) from None
        except OAuthUnavailable as error:
            raise Transient(operation, str(error)) from None
        saved = save_if_current(self.redis, self.account,
                                replace(fresh, connection=stored.connection),
                                self.settings.secret_key)
        if saved is None:
            self._revoke_orphan(fresh)
            return self._after_change(operation)
        log.info("account %s: OAuth tokens refreshed", self.account)
        return saved

    def _revoke_orphan(self, fresh: OAuthTokens) -> None:
        """A refresh answered for a connection that was replaced, disconnected or deleted
        meanwhile: its tokens are revoked at Klaviyo (best effort), never stored."""
        log.info("account %s: its Klaviyo connection changed during an OAuth refresh; the "
                 "refresh's answer is revoked, not stored", self.account)
        with contextlib.suppress(OAuthRefused, OAuthUnavailable, OAuthNotConfigured):
            revoke_token(self.settings, fresh.refresh_token)

    def _after_change(self, operation: str) -> OAuthTokens:
        """The connection changed under a refresh: the current one's tokens, if usable now
        (else the call comes back later; not connected: :class:`ReconnectNeeded`)."""
        stored = self._read(operation)
        if stored.fresh(time.time()):
            return stored
        raise Transient(operation, "the account's Klaviyo connection changed during a "
                                   "token refresh")


def session_for(client: redis.Redis, settings: Settings, account: AccountConfig,
                api: Any) -> OAuthSession | None:
    """The token source of an OAuth account's SDK client; None for a key's."""
    return OAuthSession(client, settings, account.name, api) if account.oauth_connected \
        else None
