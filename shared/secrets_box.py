"""Encryption at rest of the Klaviyo keys of accounts (Fernet, keyed by ``SYNC_SECRET_KEY``).

A stored key is only ever the Fernet token; the plain key exists in memory, wrapped in a
:class:`pydantic.SecretStr`, while a worker calls Klaviyo.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken


class SecretKeyMissing(RuntimeError):
    """``SYNC_SECRET_KEY`` is not set, so keys can be neither stored nor read."""

    def __init__(self) -> None:
        super().__init__(
            "SYNC_SECRET_KEY is not set: it encrypts the stored Klaviyo keys. Generate one with "
            "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key()"
            ".decode())' and set it in the environment of every process."
        )


class SecretKeyInvalid(RuntimeError):
    """``SYNC_SECRET_KEY`` is not a Fernet key, or not the key a stored value was made with."""


def _fernet(secret_key: str | None) -> Fernet:
    if not secret_key:
        raise SecretKeyMissing()
    try:
        return Fernet(secret_key.encode())
    except (ValueError, TypeError) as error:
        raise SecretKeyInvalid(
            "SYNC_SECRET_KEY is not a Fernet key (32 url-safe base64-encoded bytes)"
        ) from error


def encrypt(plain: str, secret_key: str | None) -> str:
    """The Fernet token of ``plain`` (what is stored in Redis)."""
    return _fernet(secret_key).encrypt(plain.encode()).decode()


def decrypt(token: str, secret_key: str | None) -> str:
    """The plain value of a stored token; a clear error when the key does not fit."""
    try:
        return _fernet(secret_key).decrypt(token.encode()).decode()
    except InvalidToken as error:
        raise SecretKeyInvalid(
            "a stored Klaviyo key cannot be decrypted with this SYNC_SECRET_KEY "
            "(was it changed?)"
        ) from error
