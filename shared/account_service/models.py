"""What the account service answers (the account API's JSON, the CLI's ``--json``)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.accounts import AccountOptions


class Connection(BaseModel):
    kind: Literal["api_key", "oauth", "none"]
    """How the account reaches Klaviyo: a private key, an OAuth connection, or not yet."""
    state: Literal["ok", "refused", "reconnect_needed"]
    since: datetime | None = None
    """Since when Klaviyo refuses (``None`` while ``ok``)."""
    detail: str | None = None
    code: str | None = None
    """Klaviyo's error code while refused."""


class AccountSettings(AccountOptions):
    """The effective settings of an account and its connection (keys are never shown)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, json_schema_extra={
        "examples": [{"name": "acme", "contact_roles": ["Decision Maker"],
                      "company_types": ["Customer"], "max_bulk_export": 5000,
                      "default_list_id": "XyZ123", "interval_seconds": 900,
                      "phone_region": "GB", "syncable": True,
                      "connection": {"kind": "api_key", "state": "ok"}}]})

    name: str
    connection: Connection
    syncable: bool
    why_not_syncable: str | None = None
    updated_at: datetime | None = None


class SyncSummary(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "batch_id": "20261122T100000-3f9c2a1b", "status": "completed",
        "started_at": "2026-11-22T10:00:00Z", "completed_at": "2026-11-22T10:00:04Z",
        "duration_s": 4.2, "counts": {"contacts": 3, "created": 2, "invalid_email": 1}}]})

    batch_id: str
    status: str
    """``running``, ``completed`` or ``failed``."""
    started_at: datetime | None = None
    completed_at: datetime | None = None
    duration_s: float | None = None
    counts: dict[str, int] = Field(default_factory=dict)
    """Contacts per outcome (zeros left out)."""
    error: str | None = None
    """Why a failed batch was given up (no personal data)."""


class ContactOutcome(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "contact_id": "C-1004", "outcome": "invalid_email", "reason": "the email has no @"}]})

    contact_id: str
    outcome: str
    """``excluded_filter``, ``invalid_email``, ``held_back``, ``rejected``, ``conflict``,
    ``unencodable``, ``phone_dropped``, ``phone_shared``, ``consent_older_than_klaviyo``
    (the CRM's consent is older than an unsubscribe, complaint or suppression in Klaviyo:
    not subscribed), ``sms_excluded`` (SMS consent without a sendable phone)."""
    reason: str


class SyncDetail(SyncSummary):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "batch_id": "20261122T100000-3f9c2a1b", "status": "completed",
        "started_at": "2026-11-22T10:00:00Z", "completed_at": "2026-11-22T10:00:04Z",
        "duration_s": 4.2, "counts": {"contacts": 3, "created": 2, "invalid_email": 1},
        "contacts": [{"contact_id": "C-1004", "outcome": "invalid_email",
                      "reason": "the email has no @"}]}]})

    contacts: list[ContactOutcome] = Field(default_factory=list)
    """The contacts excluded or refused, with why (at most 1,000 per outcome are kept)."""


class AccountSummary(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "name": "acme", "connection": {"kind": "api_key", "state": "ok"}, "syncable": True,
        "pending": 12, "running_batch": None,
        "last_sync": {"batch_id": "20261122T100000-3f9c2a1b", "status": "completed",
                      "started_at": "2026-11-22T10:00:00Z",
                      "completed_at": "2026-11-22T10:00:04Z", "duration_s": 4.2,
                      "counts": {"contacts": 3, "created": 3}}}]})

    name: str
    connection: Connection
    syncable: bool
    pending: int
    """Contact changes waiting for the next batch."""
    running_batch: str | None = None
    last_sync: SyncSummary | None = None


class Excluded(BaseModel):
    invalid_email: int
    over_cap: int


class PreviewCounts(BaseModel):
    """What a bulk export of the account would send with the saved or proposed filters."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "matching": 1200, "matching_unsubscribed": 80, "matching_consented": 300,
        "excluded": {"invalid_email": 15, "over_cap": 185}, "would_send": 1000,
        "contacts": 1500, "deleted": 20, "excluded_filter": 280, "max_bulk_export": 1000}]})

    matching: int
    """Contacts inside the filters, unsubscribed ones included."""
    matching_unsubscribed: int
    matching_consented: int = 0
    """Of ``matching``: ``subscribed`` with ``marketing_consented_at``: subscribed in Klaviyo
    as a historical import when sent (unless Klaviyo holds a newer unsubscribe)."""
    excluded: Excluded
    would_send: int
    contacts: int
    """Every mirrored contact of the account, deleted ones included."""
    deleted: int
    excluded_filter: int
    max_bulk_export: int


class KlaviyoList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": "XyZ123", "name": "Newsletter", "created": "2026-11-02T09:00:00+00:00"}]})

    id: str
    name: str
    created: str | None = None


class Rejected(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "contact_id": "C-1001", "code": "invalid", "title": "Invalid input.",
        "detail": "Invalid email address '***'", "field": "email",
        "batch_id": "20261122T100000-3f9c2a1b", "at": "2026-11-22T10:00:03Z"}]})

    contact_id: str
    code: str
    title: str
    detail: str
    field: str
    batch_id: str
    at: datetime


class Replayed(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "replayed": ["C-1001"], "not_rejected": ["C-9"]}]})

    replayed: list[str]
    """Contact ids back in pending for the next batch."""
    not_rejected: list[str] = Field(default_factory=list)
    """Ids given that were not rejected (left alone)."""


class SyncRequested(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "account": "acme", "requested": True, "pending": 12, "running_batch": None,
        "detail": "12 pending contact(s); a batch starts at the scheduler's next tick"}]})

    account: str
    requested: bool
    """False when nothing is pending and no batch runs: there is nothing to start."""
    pending: int
    running_batch: str | None = None
    detail: str


class Resynced(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "account": "acme", "pending": 12000,
        "detail": "12000 contact(s) pending; the next batch plans them again (the bulk "
                  "export cap applies)"}]})

    account: str
    pending: int
    detail: str


class ErasureRequested(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "account": "acme", "contact_id": "C-1001", "erased_at": "2026-12-07T10:00:00Z",
        "detail": "stored; the next batch erases the profile in Klaviyo and forgets the "
                  "contact here (a change older than erased_at is refused from now on)"}]})

    account: str
    contact_id: str
    erased_at: datetime
    """The erasure's time: a change of the contact that occurred before it is refused."""
    detail: str


class NextSyncPlan(BaseModel):
    """What the account's next batch would do if it started now (a dry run: nothing
    written, no Klaviyo call; ``contact-sync preview --next --json`` prints the same)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "account": "acme", "contacts": 7, "create": 2, "update": 1, "list_join": 1,
        "list_leave": 2, "clear_fields": 1, "subscribe": 0, "unsubscribe": 1, "erase": 1,
        "excluded": {"excluded_filter": 1, "invalid_email": 1, "unchanged": 0},
        "contact_ids": {"create": ["C-4", "C-7"], "update": ["C-1"], "list_join": ["C-4"],
                        "list_leave": ["C-2", "C-5"], "clear_fields": ["C-1"],
                        "subscribe": [], "unsubscribe": ["C-7"], "erase": ["C-3"]},
        "computed_at": "2026-12-07T10:00:00Z"}]})

    account: str
    contacts: int
    """Pending contacts planned."""
    create: int
    """Profiles the batch would create (one per email; contacts sharing an email are one)."""
    update: int
    """Profiles it would update."""
    list_join: int
    list_leave: int
    """Deleted in the CRM, or outside the filters now, and in a list the sync put them in."""
    clear_fields: int
    """Profiles with a field, property or phone to clear."""
    subscribe: int
    """Always 0: the sync never subscribes anyone without a consent time."""
    unsubscribe: int
    erase: int
    excluded: dict[str, int]
    """Contacts not sent, by reason (``unchanged`` among them)."""
    contact_ids: dict[str, list[str]]
    """Up to 100 contact ids per kind (CRM ids only)."""
    computed_at: datetime
    """When it was planned: now, or when a big account's stored dry run was computed."""


class NextSyncComputing(BaseModel):
    """A big account's dry run is being computed: ask again after ``retry_after`` seconds."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "account": "acme", "contacts": 100000, "status": "computing", "retry_after": 20,
        "detail": "100000 pending contacts: the dry run is being computed; ask again in "
                  "20 s"}]})

    account: str
    contacts: int
    """Pending contacts to plan."""
    status: Literal["computing"] = "computing"
    retry_after: int
    """Seconds to wait before asking again (the ``Retry-After`` header too)."""
    detail: str
