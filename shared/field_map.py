"""An account's field map: which CRM field goes to which Klaviyo profile field or property.

``field_map`` (account setting) is an object from a Klaviyo *target* to a CRM *source*:

* targets: the profile fields :data:`PROFILE_TARGETS` (``location.city`` ...), or
  ``properties.<Name>`` (a custom property);
* sources: the contact's fields :data:`CONTACT_SOURCES` (``company.name`` ...), or
  ``properties.<key>`` (a key of the CRM's free ``properties``);
* a value is a source path, or ``{"from": path, "type": "string|number|boolean|date|list"}``
  (the value is converted; one that will not convert is left off that profile and counted
  ``mapping_error`` with the target and the reason, never the value).

Without a map (``None``) the profile is what it always was (:func:`default_attributes` in
the planner: ``first_name``, ``last_name``, ``title`` <- ``job_title``, ``organization`` <-
``company.name``, every CRM property under its own key, plus ``role`` and
``company_type``). With one, only what it names is sent (and ``crm_contact_id``, always).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from shared.events import Contact

PROPERTY = "properties."
PROFILE_TARGETS: frozenset[str] = frozenset({
    "first_name", "last_name", "title", "organization", "locale", "external_id",
    "location.city", "location.region", "location.country", "location.zip",
    "location.address1"})
CONTACT_SOURCES: frozenset[str] = frozenset({
    "id", "email", "first_name", "last_name", "phone", "job_title", "role", "marketing",
    "company.id", "company.name", "company.type"})
TYPES: frozenset[str] = frozenset({"string", "number", "boolean", "date", "list"})
MAX_ENTRIES = 200
"""Targets per map (Klaviyo's profile is at most 100 KB anyway)."""

FieldMap = dict[str, tuple[str, str | None]]
"""target -> (source path, type or None: sent as it is)."""


class FieldMapError(ValueError):
    """A map that cannot be used; the message names the target (never a value)."""


def _target_ok(target: str) -> bool:
    return target in PROFILE_TARGETS or (target.startswith(PROPERTY)
                                         and 0 < len(target) - len(PROPERTY) <= 255)


def _source_ok(source: str) -> bool:
    return source in CONTACT_SOURCES or (source.startswith(PROPERTY)
                                         and 0 < len(source) - len(PROPERTY) <= 255)


def parse_field_map(value: object) -> FieldMap | None:
    """The map of a setting (``None`` or ``{}``: no map), or :class:`FieldMapError`."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise FieldMapError("must be an object from Klaviyo target to CRM source")
    if len(value) > MAX_ENTRIES:
        raise FieldMapError(f"at most {MAX_ENTRIES} targets")
    parsed: FieldMap = {}
    for target, spec in value.items():
        if not isinstance(target, str) or not _target_ok(target):
            raise FieldMapError(f"unknown target {str(target)[:80]!r}: one of "
                                f"{sorted(PROFILE_TARGETS)} or properties.<Name>")
        kind: str | None = None
        if isinstance(spec, dict):
            if set(spec) - {"from", "type"} or "from" not in spec:
                raise FieldMapError(f"{target}: give {{\"from\": source, \"type\": type}}")
            source, kind = spec["from"], spec.get("type")
            if kind is not None and kind not in TYPES:
                raise FieldMapError(f"{target}: unknown type {str(kind)[:40]!r}: one of "
                                    f"{sorted(TYPES)}")
        else:
            source = spec
        if not isinstance(source, str) or not _source_ok(source):
            raise FieldMapError(f"{target}: unknown source {str(source)[:80]!r}: one of "
                                f"{sorted(CONTACT_SOURCES)} or properties.<key>")
        parsed[target] = (source, kind)
    return parsed or None


def dump_field_map(parsed: FieldMap | None) -> dict[str, Any] | None:
    """The map as the setting shows it (a plain path where no type is given)."""
    if parsed is None:
        return None
    return {target: source if kind is None else {"from": source, "type": kind}
            for target, (source, kind) in parsed.items()}


def _read(contact: Contact, source: str) -> Any:
    if source.startswith(PROPERTY):
        return contact.properties.get(source[len(PROPERTY):])
    if source.startswith("company."):
        return getattr(contact.company, source[len("company."):]) if contact.company else None
    return getattr(contact, source)


def convert(value: Any, kind: str | None) -> Any:
    """``value`` as ``kind``; raises ``ValueError`` naming why (never the value)."""
    if kind is None or value is None:
        return value
    if kind == "string":
        if isinstance(value, dict | list):
            raise ValueError("an object or list is not a string")
        if isinstance(value, bool):
            return "true" if value else "false"
        return value if isinstance(value, str) else str(value)
    if kind == "number":
        if isinstance(value, bool):
            raise ValueError("a boolean is not a number")
        if isinstance(value, int | float):
            return value
        if isinstance(value, str):
            try:
                number = float(value.strip())
            except ValueError:
                raise ValueError("not a number") from None
            if number != number or number in (float("inf"), float("-inf")):
                raise ValueError("not a finite number")
            return int(number) if number.is_integer() and "." not in value else number
        raise ValueError("not a number")
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "1", "yes"):
            return True
        if text in ("false", "0", "no"):
            return False
        raise ValueError("not a boolean (true/false, 1/0, yes/no)")
    if kind == "date":
        if not isinstance(value, str):
            raise ValueError("a date is sent as an ISO 8601 string")
        text = value.strip()
        try:  # a plain date stays a date; a time keeps its time (and zone)
            if len(text) == len("2024-03-01"):
                return date.fromisoformat(text).isoformat()
            return datetime.fromisoformat(text.replace("Z", "+00:00")).isoformat()
        except ValueError:
            raise ValueError("not an ISO 8601 date") from None
    if isinstance(value, list):  # list
        return value
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    raise ValueError("not a list")


def mapped_attributes(contact: Contact, email: str, field_map: FieldMap
                      ) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The profile attributes (without the phone) a map gives, and the (target, reason)
    of each value that would not convert (left off)."""
    attributes: dict[str, Any] = {"email": email}
    properties: dict[str, Any] = {"crm_contact_id": contact.id}
    location: dict[str, Any] = {}
    errors: list[tuple[str, str]] = []
    for target, (source, kind) in field_map.items():
        try:
            value = convert(_read(contact, source), kind)
        except ValueError as error:
            errors.append((target, str(error)))
            continue
        if value is None:
            continue
        if target.startswith(PROPERTY):
            properties[target[len(PROPERTY):]] = value
        elif target.startswith("location."):
            location[target[len("location."):]] = value
        else:
            attributes[target] = value
    if location:
        attributes["location"] = location
    attributes["properties"] = properties
    return attributes, errors
