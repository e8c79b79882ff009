"""An account's OAuth tokens, stored encrypted in its config hash, and connecting or
disconnecting it.

The tokens are one Fernet token (:mod:`shared.secrets_box`, ``SYNC_SECRET_KEY``) in the
field :data:`OAUTH_FIELD` of :func:`shared.constants.account_config`: access token, refresh
token, expiry, lifetime and scope, never in plain text. Living in the config hash, they go
when the account is removed. :func:`store_connection` is what a new connection does: the
tokens are stored, a refusal (``refused`` / ``reconnect_needed``) is cleared and the account
is due at once, so the changes that waited in pending sync in the next batch.

Each connection has a random id (:data:`shared.accounts.CONNECTION_FIELD`, plain, beside
the tokens): a new one with every connection, gone with a disconnect, a new key or the
account. Processes keep tokens and clients by account *and* connection id and compare the
id in Redis before each use (:func:`connection_of`, one ``HGET``), so a reconnect, a
disconnect or a delete takes effect in every process at its next call. A refresh stores
its answer only while the connection it refreshed is still the current one
(:func:`save_if_current`, ``WATCH``/``MULTI``): a refresh in flight never overwrites a newer
connection, undoes a disconnect or brings a deleted account back.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

import redis

from shared import constants as keys
from shared import secrets_box
from shared.accounts import CONNECTION_FIELD, DEFAULT_ACCOUNT, KEY_FIELD, OAUTH_FIELD
from shared.redis_cluster import after_watched, transaction
from shared.redis_text import as_text
from shared.state import connection as connection_state
from shared.state import due_accounts

LEGACY_CONNECTION = "-"
"""The connection id of tokens stored before connections had ids (adopted a new id at
their first refresh)."""
MAX_EARLY_S = 60.0
"""A token is refreshed this long before it expires (or a quarter of its lifetime, when
that is shorter: the sandbox's tokens live seconds)."""


@dataclass(frozen=True)
class OAuthTokens:
    """What the token endpoint gave, with its expiry as an epoch time."""

    access_token: str
    refresh_token: str
    expires_at: float
    lifetime: float
    scope: str = ""
    connection: str = ""
    """The id of the connection these tokens belong to (stored beside them, not sealed)."""

    @classmethod
    def from_answer(cls, answer: dict[str, Any], now: float) -> OAuthTokens:
        """From an RFC 6749 token answer (``expires_in`` seconds; 3600 when missing)."""
        lifetime = float(answer.get("expires_in") or 3600)
        return cls(str(answer["access_token"]), str(answer["refresh_token"]),
                   now + lifetime, lifetime, str(answer.get("scope") or ""))

    def fresh(self, now: float) -> bool:
        """Still usable for a call now (not within the refresh margin of its expiry)."""
        return now < self.expires_at - min(MAX_EARLY_S, self.lifetime / 4)

    def __repr__(self) -> str:  # never print a token
        return f"OAuthTokens(expires_at={self.expires_at:.0f}, scope={self.scope!r})"


def connection_of(client: redis.Redis, account: str) -> str | None:
    """The id of the account's current connection (None: none, or one stored before ids)."""
    raw = client.hget(keys.account_config(account), CONNECTION_FIELD)
    return None if raw is None else as_text(raw)


def _id(raw: object) -> str:
    return LEGACY_CONNECTION if raw is None else as_text(raw)


def read_tokens(client: redis.Redis, account: str, secret_key: str | None) -> OAuthTokens | None:
    """The stored tokens of ``account`` (decrypted) with their connection id, or None when
    it is not connected."""
    raw, connection = client.hmget(keys.account_config(account), [OAUTH_FIELD, CONNECTION_FIELD])
    if raw is None:
        return None
    sealed = json.loads(secrets_box.decrypt(as_text(raw), secret_key))
    sealed.pop("connection", None)
    return OAuthTokens(**sealed, connection=_id(connection))


def save_tokens(pipe: Any, account: str, tokens: OAuthTokens, secret_key: str | None) -> None:
    """Store ``tokens`` (encrypted) in ``pipe``, with their connection id when they have one."""
    plain = asdict(tokens)
    connection = plain.pop("connection")
    sealed = secrets_box.encrypt(json.dumps(plain), secret_key)
    pipe.hset(keys.account_config(account), OAUTH_FIELD, sealed)
    if connection and connection != LEGACY_CONNECTION:
        pipe.hset(keys.account_config(account), CONNECTION_FIELD, connection)


def save_if_current(client: redis.Redis, account: str, refreshed: OAuthTokens,
                    secret_key: str | None) -> OAuthTokens | None:
    """Store a refresh's answer only while ``refreshed.connection`` is still the account's
    connection; the tokens as stored, or None when the connection changed meanwhile
    (reconnected, disconnected, deleted: nothing written). Tokens stored before connections
    had ids adopt a new id here."""
    stored = refreshed if refreshed.connection != LEGACY_CONNECTION else \
        replace(refreshed, connection=new_connection_id())
    written = _if_current(client, account, refreshed.connection,
                          lambda pipe: save_tokens(pipe, account, stored, secret_key))
    return stored if written else None


def _if_current(client: redis.Redis, account: str, connection: str,
                write: Callable[[Any], None]) -> bool:
    """Run ``write`` (in ``MULTI``) only while the account is connected with ``connection``:
    a compare-and-set under ``WATCH`` of its config hash; False when it is not."""
    config = keys.account_config(account)
    with client.pipeline(transaction=True) as pipe:
        watched: Any = pipe
        while True:
            try:
                watched.watch(config)
                if not pipe.hexists(config, OAUTH_FIELD) \
                        or _id(pipe.hget(config, CONNECTION_FIELD)) != connection:
                    pipe.unwatch()
                    return False
                pipe.multi()
                after = after_watched(client, pipe, config, write)
                pipe.execute()
                if after is not None:  # a cluster: the global indexes, once it committed
                    after.execute()
                return True
            except redis.WatchError:
                continue


def new_connection_id() -> str:
    """A fresh random connection id."""
    return secrets.token_hex(8)


def _log(pipe: Any, account: str, before: str, after: str, now: float) -> None:
    pipe.rpush(keys.account_config_log(account), json.dumps(
        {"at": now, "field": OAUTH_FIELD, "before": before, "after": after}))


def store_connection(client: redis.Redis, account: str, tokens: OAuthTokens,
                     secret_key: str | None) -> OAuthTokens:
    """A new connection (newest wins): tokens stored under a new connection id, the
    account registered, any refusal cleared, and the account due now (its waiting changes
    go in the next batch). The tokens as stored, with their connection id."""
    now = time.time()
    stored = replace(tokens, connection=new_connection_id())
    with transaction(client) as pipe:
        save_tokens(pipe, account, stored, secret_key)
        pipe.hset(keys.account_config(account), "updated_at", json.dumps(now))
        _log(pipe, account, "not connected", "connected", now)
        if account != DEFAULT_ACCOUNT:
            pipe.sadd(keys.ACCOUNTS_SET, account)
        connection_state.clear(pipe, account)
        pipe.hset(keys.state(account), "force", "1")
        due_accounts.look_at(pipe, account, due_accounts.ASAP)
        due_accounts.reverse_at(pipe, account, due_accounts.ASAP)
        pipe.execute()
    return stored


def forget_connection(client: redis.Redis, account: str) -> None:
    """Disconnected: the tokens, their connection id and the private key are forgotten (the
    account and its settings stay; it no longer syncs until it has credentials again)."""
    now = time.time()
    with transaction(client) as pipe:
        pipe.hdel(keys.account_config(account), OAUTH_FIELD, CONNECTION_FIELD, KEY_FIELD)
        _log(pipe, account, "connected", "disconnected", now)
        connection_state.clear(pipe, account)
        pipe.execute()


def mark_reconnect_needed(client: redis.Redis, account: str, connection: str,
                          detail: str) -> bool:
    """Klaviyo refused the refresh of ``connection`` (``invalid_grant``): the account waits
    for a new connection (the scheduler starts no batch for it; its changes wait in
    pending). The dead tokens stay, so the account still shows as an OAuth one. Nothing is
    marked (False) when the account has another connection by now (a reconnect revoked the
    old grant) or none."""
    return _if_current(client, account, connection, lambda pipe: connection_state.park(
        pipe, account, "reconnect_needed", "invalid_grant", detail, time.time()))
