"""The in-memory data of every account: profiles with O(1) identifier indexes, lists, jobs."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sandbox.ids import list_id, now, ulid

NEVER = "NEVER_SUBSCRIBED"


@dataclass(slots=True)
class Channel:
    """Consent of one channel (email marketing, sms marketing...)."""

    consent: str = NEVER
    consent_timestamp: datetime | None = None
    last_updated: datetime | None = None
    method: str | None = None
    method_detail: str | None = None


@dataclass(slots=True)
class Profile:
    """One Klaviyo profile; ``fields`` holds the non-identifier attributes."""

    id: str
    created: datetime
    updated: datetime
    email: str | None = None
    phone_number: str | None = None
    external_id: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    email_marketing: Channel = field(default_factory=Channel)
    sms_marketing: Channel = field(default_factory=Channel)
    suppressions: list[dict[str, Any]] = field(default_factory=list)
    list_suppressions: list[dict[str, Any]] = field(default_factory=list)


@dataclass(slots=True)
class ListRec:
    """A list and its members (profile id -> joined_group_at)."""

    id: str
    name: str
    created: datetime
    updated: datetime
    opt_in_process: str
    members: dict[str, datetime] = field(default_factory=dict)
    _sorted: list[tuple[datetime, str]] | None = None

    def add(self, profile_id: str, joined: datetime, keep_existing: bool = True) -> None:
        """Add a member; an existing member keeps its joined_group_at unless told otherwise."""
        if keep_existing and profile_id in self.members:
            return
        self.members[profile_id] = joined
        self._sorted = None

    def remove(self, profile_id: str) -> bool:
        """Remove a member; False when it was not one."""
        if self.members.pop(profile_id, None) is None:
            return False
        self._sorted = None
        return True

    def by_joined(self) -> list[tuple[datetime, str]]:
        """Members sorted by (joined_group_at, id); cached until the membership changes."""
        if self._sorted is None:
            self._sorted = sorted((joined, pid) for pid, joined in self.members.items())
        return self._sorted

    def joined_range(
        self, low: tuple[datetime, bool] | None, high: tuple[datetime, bool] | None
    ) -> list[tuple[datetime, str]]:
        """Members with joined_group_at inside the bounds ((value, inclusive) each)."""
        rows = self.by_joined()
        start, end = 0, len(rows)
        if low is not None:
            key = (low[0], "") if low[1] else (low[0], "\uffff")
            start = bisect.bisect_left(rows, key)
        if high is not None:
            key = (high[0], "\uffff") if high[1] else (high[0], "")
            end = bisect.bisect_left(rows, key)
        return rows[start:end] if start < end else []


@dataclass(slots=True)
class ImportJob:
    """A profile bulk-import job; rows are kept until processing.

    ``checked``: the rows as the POST's validation left them, ready to upsert (``sync``
    validation), or None when processing checks each row (``async``).
    """

    id: str
    created_at: datetime
    total_count: int
    rows: list[dict[str, Any]]
    list_ids: list[str]
    checked: list[tuple[dict[str, Any], str | None]] | None = None
    status: str = "queued"
    started_at: datetime | None = None
    completed_at: datetime | None = None
    expires_at: datetime | None = None
    completed_count: int = 0
    failed_count: int = 0
    profile_ids: list[str] = field(default_factory=list)
    profile_set: set[str] = field(default_factory=set)
    errors: list[dict[str, Any]] = field(default_factory=list)

    def drop_rows(self) -> None:
        """Forget the rows not applied (done, cancelled or expired)."""
        self.rows = []
        self.checked = None

    def expired(self, at: datetime) -> bool:
        """Whether the job is gone (past ``expires_at``): its GET answers 404."""
        return self.expires_at is not None and self.expires_at <= at


@dataclass(slots=True)
class PassedRows:
    """The rows of the account's last refused bulk import job that passed the check, by their
    JSON, with the settings they were checked under (``bulk_rows.checked_rows``)."""

    settings: tuple[Any, ...] = ()
    rows: dict[bytes, tuple[dict[str, Any], str | None]] = field(default_factory=dict)

    def take(self, settings: tuple[Any, ...]) -> dict[bytes, tuple[dict[str, Any], str | None]]:
        """The rows checked under ``settings``, forgotten here: a POST uses them once."""
        rows = self.rows if settings == self.settings else {}
        self.rows = {}
        return rows


@dataclass(slots=True)
class SuppressJob:
    """A suppression bulk-create job (processed at once)."""

    id: str
    created_at: datetime
    total_count: int
    completed_count: int
    skipped_count: int
    list_id: str | None
    status: str = "complete"


class Account:
    """All data behind one API key."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.state = "ok"  # one of config.KEY_STATES; kept by clear(): a revoked key keeps its data
        self.clear()

    def clear(self) -> None:
        """Forget every profile, list and job."""
        self.profiles: dict[str, Profile] = {}
        self.order: list[str] = []
        self.by_email: dict[str, str] = {}
        self.by_phone: dict[str, str] = {}
        self.by_external: dict[str, str] = {}
        self.indexes: dict[str, dict[str, str]] = {
            "email": self.by_email, "phone_number": self.by_phone, "external_id": self.by_external
        }
        """The three indexes above by identifier name (one lookup in the upsert loops)."""
        self.lists: dict[str, ListRec] = {}
        self.import_jobs: dict[str, ImportJob] = {}
        self.suppress_jobs: dict[str, SuppressJob] = {}
        self.passed_rows = PassedRows()

    def index_for(self, name: str) -> dict[str, str]:
        """The identifier index of ``email``, ``phone_number`` or ``external_id``."""
        return self.indexes.get(name, self.by_external)

    def new_profile(self) -> Profile:
        """A new empty profile, registered in id order."""
        stamp = now()
        profile = Profile(id=ulid(), created=stamp, updated=stamp)
        self.profiles[profile.id] = profile
        self.order.append(profile.id)
        return profile

    def new_list(self, name: str, opt_in_process: str) -> ListRec:
        """Create a list."""
        stamp = now()
        rec = ListRec(
            id=list_id(), name=name, created=stamp, updated=stamp, opt_in_process=opt_in_process
        )
        while rec.id in self.lists:
            rec.id = list_id()
        self.lists[rec.id] = rec
        return rec

    def list_ids_of(self, profile_id: str) -> list[str]:
        """The ids of the lists the profile belongs to."""
        return [rec.id for rec in self.lists.values() if profile_id in rec.members]


class Store:
    """Accounts by API key."""

    def __init__(self, keys: tuple[str, ...] | list[str] = ()) -> None:
        self.accounts: dict[str, Account] = {}
        for key in keys:
            self.add_key(key)

    def add_key(self, key: str) -> Account:
        """Create the account of ``key`` (idempotent)."""
        account = self.accounts.get(key)
        if account is None:
            account = self.accounts[key] = Account(key)
        return account

    def reset(self, key_states: dict[str, str] | None = None) -> None:
        """Drop every account's data, keeping the keys; their states go back to ``key_states``
        (``ok`` when not named)."""
        for account in self.accounts.values():
            account.clear()
        self.set_states(key_states or {})

    def set_states(self, key_states: dict[str, str]) -> None:
        """Every key ``ok`` except those named."""
        for key, account in self.accounts.items():
            account.state = key_states.get(key, "ok")
