"""A small typed client of the sandbox's inspection API (``/__sandbox/``), used by tests."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import httpx


class SandboxClient:
    """Talks to one running sandbox; ``key`` is the account the caller works with."""

    def __init__(self, url: str, key: str = "sandbox-key", timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.key = key
        self._http = httpx.Client(base_url=f"{self.url}/__sandbox", timeout=timeout)

    def _call(
        self, method: str, path: str, json: Any = None, params: dict[str, str] | None = None
    ) -> Any:
        response = self._http.request(method, path, json=json, params=params)
        if response.status_code >= 400:
            raise RuntimeError(f"sandbox {method} {path}: {response.status_code} {response.text}")
        return response.json()

    def reset(self) -> None:
        """Drop every account's data, call counts and faults (keys stay)."""
        self._call("POST", "/reset")

    def add_key(self, key: str) -> str:
        """Create the account of ``key``."""
        self._call("POST", "/keys", {"key": key})
        return key

    def new_key(self, prefix: str = "test") -> str:
        """A fresh, unique key with its own empty account."""
        return self.add_key(f"{prefix}-{uuid.uuid4().hex[:12]}")

    def profiles(self, key: str | None = None) -> list[dict[str, Any]]:
        """All profiles of an account: attributes, ``subscriptions`` and ``lists`` (ids)."""
        result: list[dict[str, Any]] = self._call("GET", f"/accounts/{key or self.key}/profiles")[
            "profiles"
        ]
        return result

    def profile_by_email(self, email: str, key: str | None = None) -> dict[str, Any] | None:
        """The profile with that (normalised) email, or None."""
        wanted = email.strip().lower()
        return next((p for p in self.profiles(key) if p["email"] == wanted), None)

    def lists(self, key: str | None = None) -> list[dict[str, Any]]:
        """All lists of an account with ``members`` [{profile_id, joined_group_at}]."""
        result: list[dict[str, Any]] = self._call("GET", f"/accounts/{key or self.key}/lists")[
            "lists"
        ]
        return result

    def calls(self, key: str | None = None) -> dict[str, dict[str, int]]:
        """``{operation: {"status": count}}`` (all accounts, or one)."""
        result: dict[str, dict[str, int]] = self._call(
            "GET", "/calls", params={"key": key} if key else None
        )
        return result

    def requests(self, key: str | None = None,
                 operation: str | None = None) -> list[dict[str, Any]]:
        """The request log in arrival order: ``{key, operation, status, arrived, answered,
        retry_after}`` per answered ``/api`` call (times in Unix seconds, status 0 = dropped
        connection, retry_after 0 = no ``Retry-After``)."""
        params = {k: v for k, v in (("key", key), ("operation", operation)) if v}
        result: list[dict[str, Any]] = self._call("GET", "/requests", params=params or None)[
            "requests"
        ]
        return result

    def set_faults(
        self,
        operation: str = "*",
        *,
        status_429: float = 0.0,
        status_500: float = 0.0,
        status_503: float = 0.0,
        status_403_html: float = 0.0,
        latency_ms: int = 0,
        drop: float = 0.0,
        retry_after: int = 1,
        omit_retry_after: float = 0.0,
    ) -> None:
        """Inject faults into one operation (SDK name) or every one (``*``).

        ``status_403_html``: share of CDN challenges (403, text/html, ``cf-mitigated:
        challenge``); ``omit_retry_after``: share of 429s (injected or from the rate limiter)
        sent without ``Retry-After``."""
        self._call(
            "PUT",
            "/faults",
            {
                "operation": operation,
                "status_429": status_429,
                "status_500": status_500,
                "status_503": status_503,
                "status_403_html": status_403_html,
                "latency_ms": latency_ms,
                "drop": drop,
                "retry_after": retry_after,
                "omit_retry_after": omit_retry_after,
            },
        )

    def clear_faults(self) -> None:
        """No faults."""
        self._call("DELETE", "/faults")

    def set_limits(self, mode: str = "on", scale: float = 1.0) -> None:
        """Rate limits on/off, and their scale (0.1 = ten times smaller)."""
        self._call("PUT", "/limits", {"mode": mode, "scale": scale})

    def set_jobs(self, mode: str = "async", delay_ms: int = 0, processing_ms: int = 0) -> None:
        """Bulk-import jobs processed ``instant``-ly, or ``async``: ``queued`` for
        ``delay_ms``, then ``processing`` for ``processing_ms``, then ``complete``."""
        self._call(
            "PUT", "/jobs", {"mode": mode, "delay_ms": delay_ms, "processing_ms": processing_ms}
        )

    def set_strictness(
        self,
        *,
        bulk_validation: str | None = None,
        name_bad_rows: int | None = None,
        phone_identity: bool | None = None,
        one_list_per_job: bool | None = None,
        opaque_job_ids: bool | None = None,
        refused_email_domains: list[str] | None = None,
    ) -> dict[str, Any]:
        """Change the given switches (the others stay); returns all of them.

        ``bulk_validation``: ``sync`` (a job with a bad row is refused whole) or ``async``
        (bad rows become import-errors); ``name_bad_rows``: rows a refusal names (0 = all)."""
        changes = {
            name: value
            for name, value in (
                ("bulk_validation", bulk_validation),
                ("name_bad_rows", name_bad_rows),
                ("phone_identity", phone_identity),
                ("one_list_per_job", one_list_per_job),
                ("opaque_job_ids", opaque_job_ids),
                ("refused_email_domains", refused_email_domains),
            )
            if value is not None
        }
        result: dict[str, Any] = self._call("PUT", "/strictness", changes)
        return result

    def strictness(self) -> dict[str, Any]:
        """The strictness switches."""
        result: dict[str, Any] = self._call("GET", "/strictness")
        return result

    def set_key_state(self, state: str, key: str | None = None) -> None:
        """A key becomes ``ok``, ``revoked`` (401, data kept) or ``no_scope`` (403)."""
        self._call("PUT", f"/keys/{key or self.key}", {"state": state})

    def cancel_job(self, job_id: str, key: str | None = None) -> dict[str, Any]:
        """The bulk import job becomes ``cancelled``; returns {id, status, created_at,
        expires_at}."""
        result: dict[str, Any] = self._call(
            "POST", f"/accounts/{key or self.key}/jobs/{job_id}/cancel"
        )
        return result

    def expire_job(self, job_id: str, key: str | None = None) -> dict[str, Any]:
        """The bulk import job expires now: its GETs answer 404."""
        result: dict[str, Any] = self._call(
            "POST", f"/accounts/{key or self.key}/jobs/{job_id}/expire"
        )
        return result

    def add_members(
        self,
        list_id: str,
        profile_ids: list[str],
        joined_group_at: datetime | str | None = None,
        key: str | None = None,
    ) -> None:
        """Members join a list at ``joined_group_at`` (a form sign-up, bypassing the API)."""
        body: dict[str, Any] = {"profile_ids": profile_ids}
        if joined_group_at is not None:
            body["joined_group_at"] = (
                joined_group_at.isoformat()
                if isinstance(joined_group_at, datetime)
                else joined_group_at
            )
        self._call("POST", f"/accounts/{key or self.key}/lists/{list_id}/members", body)

    def remove_members(self, list_id: str, profile_ids: list[str], key: str | None = None) -> None:
        """Members leave a list."""
        self._call(
            "DELETE",
            f"/accounts/{key or self.key}/lists/{list_id}/members",
            {"profile_ids": profile_ids},
        )

    def change_consent(self, profile_id: str, action: str, at: datetime | str | None = None,
                       list_id: str | None = None, key: str | None = None) -> dict[str, Any]:
        """A person changes their consent inside Klaviyo (``sandbox/suppressions.py``):
        ``unsubscribe``, ``bounce``, ``complain``, ``suppress``, ``invalid``,
        ``unsubscribe_list`` (with ``list_id``), ``subscribe``, ``stop``, ``sms_subscribe``;
        ``at``: when (default now)."""
        body: dict[str, Any] = {"action": action}
        if at is not None:
            body["at"] = at.isoformat() if isinstance(at, datetime) else at
        if list_id is not None:
            body["list_id"] = list_id
        result: dict[str, Any] = self._call(
            "POST", f"/accounts/{key or self.key}/profiles/{profile_id}/consent", body)
        return result

    def delete_list(self, list_id: str, key: str | None = None) -> None:
        """The list is deleted (as in Klaviyo's UI)."""
        self._call("DELETE", f"/accounts/{key or self.key}/lists/{list_id}")

    def oauth(self) -> dict[str, Any]:
        """The OAuth server's ``counts`` (authorization_code, refresh_token, refused,
        revoked), ``grants`` (live, revoked) and ``access_token_ttl_s``."""
        result: dict[str, Any] = self._call("GET", "/oauth")
        return result

    def set_access_token_ttl(self, seconds: float) -> None:
        """Access tokens issued from now on live ``seconds``."""
        self._call("PUT", "/oauth", {"access_token_ttl_s": seconds})

    def expire_access_tokens(self) -> int:
        """Every access token issued so far expires now."""
        return int(self._call("POST", "/oauth/expire")["expired"])

    def uninstall_app(self, key: str | None = None) -> int:
        """The account's user removes the app: its OAuth grants are revoked."""
        return int(self._call("POST", f"/accounts/{key or self.key}/oauth/revoke")["revoked"])

    def consent(self, authorize_url: str, *, allow: bool = True,
                key: str | None = None) -> str:
        """Open the consent page of ``authorize_url`` and answer it as the account's user;
        the ``Location`` the sandbox redirects to (the app's redirect URI with ``code`` or
        ``error``). Raises when the page refuses the request."""
        page = httpx.get(authorize_url, timeout=10.0)
        if page.status_code != 200:
            raise RuntimeError(f"sandbox consent page: {page.status_code} {page.text}")
        request_id = page.text.split('name="request" value="', 1)[1].split('"', 1)[0]
        answer = httpx.post(f"{self.url}/oauth/authorize", timeout=10.0, data={
            "request": request_id, "account": key or self.key,
            "decision": "allow" if allow else "deny"})
        if answer.status_code != 302:
            raise RuntimeError(f"sandbox consent answer: {answer.status_code} {answer.text}")
        return answer.headers["location"]

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()

    def __enter__(self) -> SandboxClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
