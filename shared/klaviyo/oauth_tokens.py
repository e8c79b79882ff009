"""An account's OAuth tokens, stored encrypted in its config hash, and connecting or
disconnecting it.

The tokens are one Fernet token (:mod:`shared.secrets_box`, ``SYNC_SECRET_KEY``) in the
field :data:`OAUTH_FIELD` of :func:`shared.constants.account_config`: access token, refresh
token, expiry, lifetime and scope, never in plain text. Living in the config hash, they go
when the account is removed. :func:`store_connection` is what a new connection does: the
tokens are stored, a refusal (``refused`` / ``reconnect_needed``) is cleared and the account
is due at once, so the changes that waited in pending sync in the next batch.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from typing import Any

import redis

from shared import constants as keys
from shared import secrets_box
from shared.accounts import DEFAULT_ACCOUNT, KEY_FIELD, OAUTH_FIELD
from shared.redis_cluster import transaction
from shared.redis_text import as_text
from shared.state import connection as connection_state
from shared.state import due_accounts

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


def read_tokens(client: redis.Redis, account: str, secret_key: str | None) -> OAuthTokens | None:
    """The stored tokens of ``account`` (decrypted), or None when it is not connected."""
    raw = client.hget(keys.account_config(account), OAUTH_FIELD)
    if raw is None:
        return None
    return OAuthTokens(**json.loads(secrets_box.decrypt(as_text(raw), secret_key)))


def save_tokens(pipe: Any, account: str, tokens: OAuthTokens, secret_key: str | None) -> None:
    """Store ``tokens`` (encrypted) in ``pipe``."""
    sealed = secrets_box.encrypt(json.dumps(asdict(tokens)), secret_key)
    pipe.hset(keys.account_config(account), OAUTH_FIELD, sealed)


def _log(pipe: Any, account: str, before: str, after: str, now: float) -> None:
    pipe.rpush(keys.account_config_log(account), json.dumps(
        {"at": now, "field": OAUTH_FIELD, "before": before, "after": after}))


def store_connection(client: redis.Redis, account: str, tokens: OAuthTokens,
                     secret_key: str | None) -> None:
    """A new connection: tokens stored, the account registered, any refusal cleared, and
    the account due now (its waiting changes go in the next batch)."""
    now = time.time()
    with transaction(client) as pipe:
        save_tokens(pipe, account, tokens, secret_key)
        pipe.hset(keys.account_config(account), "updated_at", json.dumps(now))
        _log(pipe, account, "not connected", "connected", now)
        if account != DEFAULT_ACCOUNT:
            pipe.sadd(keys.ACCOUNTS_SET, account)
        connection_state.clear(pipe, account)
        pipe.hset(keys.state(account), "force", "1")
        due_accounts.look_at(pipe, account, due_accounts.ASAP)
        due_accounts.reverse_at(pipe, account, due_accounts.ASAP)
        pipe.execute()


def forget_connection(client: redis.Redis, account: str) -> None:
    """Disconnected: the tokens and the private key are forgotten (the account and its
    settings stay; it no longer syncs until it has credentials again)."""
    now = time.time()
    with transaction(client) as pipe:
        pipe.hdel(keys.account_config(account), OAUTH_FIELD, KEY_FIELD)
        _log(pipe, account, "connected", "disconnected", now)
        connection_state.clear(pipe, account)
        pipe.execute()


def mark_reconnect_needed(client: redis.Redis, account: str, detail: str) -> None:
    """Klaviyo refused the refresh (``invalid_grant``): the account waits for a new
    connection (the scheduler starts no batch for it; its changes wait in pending). The
    dead tokens stay, so the account still shows as an OAuth one."""
    now = time.time()
    with transaction(client) as pipe:
        connection_state.park(pipe, account, "reconnect_needed", "invalid_grant", detail, now)
        pipe.execute()
