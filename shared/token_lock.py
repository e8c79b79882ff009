"""Locks held by a token: taken with ``SET key token NX PX ttl`` by the caller, then
extended or released only by the token's holder, in one script (``token_lock.lua``), so a
holder whose lock expired and was taken by another never extends or frees the other's."""

from __future__ import annotations

from typing import Any

from shared.lua_scripts import lua_script

TOKEN_LOCK = lua_script(__file__, "token_lock.lua")


def extend(client: Any, key: str, token: str, ms: int) -> bool:
    """Extend ``token``'s lock to ``ms`` milliseconds from now; False: it is not held."""
    return bool(TOKEN_LOCK(client, keys=[key], args=[token, ms]))


def release(client: Any, key: str, token: str) -> bool:
    """Free ``token``'s lock; False: it was not held (expired, or another's)."""
    return bool(TOKEN_LOCK(client, keys=[key], args=[token, 0]))
