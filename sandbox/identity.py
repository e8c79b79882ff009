"""Profile attribute validation and Klaviyo's identity rules (unique identifiers, upserts)."""

from __future__ import annotations

import re
from typing import Any

from sandbox.ids import now
from sandbox.store import Account, Profile

IDENTIFIERS = ("email", "phone_number", "external_id")
SCALARS = ("first_name", "last_name", "organization", "locale", "title", "image")
OBJECTS = ("location", "properties")
WRITABLE = frozenset(IDENTIFIERS + SCALARS + OBJECTS)
IMPORT_ONLY = frozenset({"_kx"})
_WITH_KX = WRITABLE | IMPORT_ONLY
_KINDS = {name: dict if name in OBJECTS else str for name in WRITABLE}
_KINDS_WITH_KX = {name: dict if name in OBJECTS else str for name in _WITH_KX}
"""The JSON type each writable field has when not null."""

# The last label (top-level domain) has two characters or more: Klaviyo refuses
# ``user@domain.c`` although email-validator accepts it (docs/KLAVIYO.md §2).
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_TLD = r"[A-Za-z0-9][A-Za-z0-9-]{0,61}[A-Za-z0-9]"
_EMAIL = re.compile(rf"^[A-Za-z0-9.!#$%&'*+/=?^_`{{|}}~-]+@(?:{_LABEL}\.)+{_TLD}$")
_PHONE = re.compile(r"^\+[1-9]\d{6,14}$")


class RowError(Exception):
    """A bad attribute: ``field`` is relative to ``data/attributes``; ``status`` the HTTP one."""

    def __init__(
        self,
        code: str,
        title: str,
        detail: str,
        field: str | None,
        status: int = 400,
        meta: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.code = code
        self.title = title
        self.detail = detail
        self.field = field
        self.status = status
        self.meta = meta or {}


def conflict(profile_id: str) -> RowError:
    """The identity conflict as a row error (409 over HTTP)."""
    return RowError(
        "duplicate_profile",
        "Conflict.",
        "A profile already exists with one of these identifiers.",
        None,
        status=409,
        meta={"duplicate_profile_id": profile_id},
    )


def normalize_email(value: str, lowercase: bool = True) -> str:
    """Trim, and lowercase when configured: the form emails are stored and matched in."""
    value = value.strip()
    return value.lower() if lowercase else value


def clean_attributes(
    attrs: Any,
    *,
    allow_kx: bool,
    lowercase: bool = True,
    strict_phone: bool = False,
    drop_nulls: bool = False,
) -> tuple[dict[str, Any], list[str]]:
    """Check types and formats; return the attributes and the partial failures.

    An invalid phone number is dropped (partial failure ``phone_number``) when another
    valid identifier is present, as Klaviyo's single-profile endpoints do; alone, or with
    ``strict_phone`` (a bulk import row), it is an error. ``drop_nulls`` (a bulk import
    row, where a null is ignored): null fields are left out before any check, so even an
    unknown field is no error when null.
    """
    if not isinstance(attrs, dict):
        raise RowError(
            "invalid", "Invalid input.", "The payload provided in the request is invalid.", ""
        )
    allowed = _WITH_KX if allow_kx else WRITABLE
    kinds = _KINDS_WITH_KX if allow_kx else _KINDS
    out: dict[str, Any] = {}
    partial: list[str] = []
    for name, value in attrs.items():
        if value is None:
            if drop_nulls:
                continue
            if name not in allowed:
                raise _not_a_field(name)
        elif kinds.get(name) is not type(value):  # one lookup for the common case
            _check_field(name, value, allowed)
        out[name] = value
    # the values are strings or None by now
    email = out.get("email")
    if email is not None:
        email = normalize_email(email, lowercase)
        if len(email) > 100 or not _EMAIL.match(email):
            raise RowError(
                "invalid_email", "Invalid email address", "Invalid email address", "email"
            )
        out["email"] = email
    phone = out.get("phone_number")
    if phone is not None:
        phone = phone.strip()
        if _PHONE.match(phone):
            out["phone_number"] = phone
        elif not strict_phone and (out.get("email") or out.get("external_id")):
            del out["phone_number"]
            partial.append("phone_number")
        else:
            raise RowError(
                "invalid_phone_number",
                "Invalid phone number",
                "Invalid phone number format (Example of a valid format: +12345678901)",
                "phone_number",
            )
    ext = out.get("external_id")
    if ext is not None and not ext.strip():
        raise RowError("invalid", "Invalid input.", "external_id must not be blank.", "external_id")
    return out, partial


def _not_a_field(name: str) -> RowError:
    return RowError(
        "invalid", "Invalid input.", f"'{name}' is not a valid field for the resource 'profile'.",
        name,
    )


def _check_field(name: str, value: Any, allowed: frozenset[str]) -> None:
    """A non-null field not of its exact type: fine if a subclass, else its RowError."""
    if name not in allowed:
        raise _not_a_field(name)
    if name in OBJECTS:
        if not isinstance(value, dict):
            raise RowError("invalid", "Invalid input.", f"'{name}' must be an object.", name)
    elif not isinstance(value, str):
        raise RowError("invalid", "Invalid input.", f"'{name}' must be a string.", name)


def has_identifier(attrs: dict[str, Any]) -> bool:
    """At least one non-null identifier."""
    get = attrs.get
    return bool(get("email") or get("phone_number") or get("external_id"))


def require_identifier(attrs: dict[str, Any]) -> None:
    """A new profile needs an email, a phone number or an external id."""
    if not has_identifier(attrs):
        raise RowError(
            "invalid",
            "Invalid input.",
            "One of email, phone_number or external_id is required.",
            "",
        )


def match(account: Account, attrs: dict[str, Any], *, by_phone: bool = True) -> Profile | None:
    """The one profile the identifiers point to; a conflict when they point to several.

    With ``by_phone`` (the default, as in Klaviyo) a phone number identifies too: a row whose
    email matches nobody but whose phone belongs to profile B is B, and writing it rewrites
    B's email (docs/KLAVIYO.md §3). Without it, only email and external_id match.
    """
    found: str | None = None
    indexes = account.indexes
    for name in IDENTIFIERS:
        value = attrs.get(name)
        if not value or (name == "phone_number" and not by_phone):
            continue
        pid = indexes[name].get(value)
        if pid is None:
            continue
        if found is None:
            found = pid
        elif pid != found:
            raise conflict(found)
    return account.profiles[found] if found is not None else None


def drop_taken_phone(account: Account, attrs: dict[str, Any], profile: Profile | None) -> bool:
    """Without phone identity: a phone number another profile holds is not written.

    The phone then neither matches nor conflicts; the caller reports the partial failure
    ``phone_number``. Returns whether the phone was dropped.
    """
    phone = attrs.get("phone_number")
    if not phone:
        return False
    owner = account.by_phone.get(phone)
    if owner is None or (profile is not None and owner == profile.id):
        return False
    del attrs["phone_number"]
    return True


def apply(account: Account, profile: Profile, attrs: dict[str, Any], *, nulls_clear: bool) -> None:
    """Write attributes onto a profile, keeping the identifier indexes exact.

    ``nulls_clear``: a null clears the field (update/profile-import); otherwise nulls are
    ignored (bulk import). Properties and location merge per key.
    """
    indexes = account.indexes
    for name in IDENTIFIERS:  # every conflict before any write
        value = attrs.get(name)
        if value is not None:
            owner = indexes[name].get(value)
            if owner is not None and owner != profile.id:
                raise conflict(owner)
    for name, value in attrs.items():
        if value is None and not nulls_clear:
            continue
        if name in indexes:
            index = indexes[name]
            old = getattr(profile, name)
            if old == value:
                continue
            if old is not None:
                index.pop(old, None)
            if value is not None:
                index[value] = profile.id
            setattr(profile, name, value)
        elif name in OBJECTS and value is not None:
            merged = dict(profile.fields.get(name) or {})
            if nulls_clear or None not in value.values():  # the common case, in C
                merged.update(value)
            else:
                merged.update({key: item for key, item in value.items() if item is not None})
            profile.fields[name] = merged
        elif value is None:
            profile.fields.pop(name, None)
        else:
            profile.fields[name] = value
    profile.updated = now()


def upsert(
    account: Account,
    attrs: dict[str, Any],
    profile_id: str | None,
    *,
    nulls_clear: bool,
    by_phone: bool = True,
    partial: list[str] | None = None,
) -> tuple[Profile, bool]:
    """Create or update by id or identifiers; returns (profile, created).

    ``by_phone``: see ``match``; when off, a phone held by another profile is dropped and
    ``phone_number`` added to ``partial``.
    """
    profile: Profile | None
    if profile_id:
        profile = account.profiles.get(profile_id)
        if profile is None:
            raise RowError(
                "not_found",
                "Not found.",
                f"A profile with id '{profile_id}' does not exist.",
                None,
                status=404,
            )
    else:
        profile = match(account, attrs, by_phone=by_phone)
    if not by_phone and drop_taken_phone(account, attrs, profile) and partial is not None:
        partial.append("phone_number")
    if profile is not None:
        apply(account, profile, attrs, nulls_clear=nulls_clear)
        return profile, False
    require_identifier(attrs)
    profile = account.new_profile()
    try:
        apply(account, profile, attrs, nulls_clear=nulls_clear)
    except RowError:
        account.profiles.pop(profile.id, None)
        account.order.pop()
        raise
    return profile, True
