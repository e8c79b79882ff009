"""Profiles: create, get (one, many), update, create-or-update (profile-import)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sandbox.errors import duplicate, invalid, not_found
from sandbox.filters import Term, check_allowed, parse_filter, values_of
from sandbox.http import Reply, Request, Route, attributes_of, data_object
from sandbox.identity import (
    apply,
    clean_attributes,
    drop_taken_phone,
    match,
    normalize_email,
    require_identifier,
    upsert,
)
from sandbox.jsonapi import list_resource, profile_resource
from sandbox.store import Account, Profile
from sandbox.suppression_filters import (
    SUPPRESSION_FILTERS,
    SUPPRESSION_SORTS,
    matches_suppression,
    suppression_sort_key,
)

MAX_PROFILE_BYTES = 100 * 1024
_ID_OPS = {"equals", "any"}
PROFILE_FILTERS: dict[str, set[str]] = {
    "id": _ID_OPS,
    "email": _ID_OPS,
    "phone_number": _ID_OPS,
    "external_id": _ID_OPS,
    "_kx": {"equals"},
    "created": {"greater-than", "less-than"},
    "updated": {"greater-than", "less-than"},
    **SUPPRESSION_FILTERS,
}
PROFILE_SORTS = {"id", "created", "updated", "email", *SUPPRESSION_SORTS}


def _profile_or_404(account: Account, profile_id: str) -> Profile:
    profile = account.profiles.get(profile_id)
    if profile is None:
        raise not_found(f"A profile with id '{profile_id}' does not exist.")
    return profile


def _single(
    req: Request, profile: Profile, status: int, headers: dict[str, str] | None = None
) -> Reply:
    body: dict[str, Any] = {
        "data": profile_resource(profile, req.base, req.query),
        "links": {"self": f"{req.base}/api/profiles/{profile.id}/"},
    }
    return Reply(status, body, headers or {})


def _partial(partial: list[str]) -> dict[str, str]:
    return {"X-Klaviyo-Partial-Failure": ",".join(partial)} if partial else {}


def _check_size(req: Request) -> None:
    if req.too_large(MAX_PROFILE_BYTES):
        raise invalid(
            "The payload is larger than the 100 KB allowed for a profile.", pointer="/data"
        )


def create_profile(req: Request) -> Reply:
    """POST /api/profiles: 201, or 409 when an identifier exists."""
    _check_size(req)
    data = data_object(req.json(), "profile")
    attrs, partial = clean_attributes(
        attributes_of(data), allow_kx=False, lowercase=req.state.config.lowercase_emails
    )
    require_identifier(attrs)
    account = req.acct
    by_phone = req.state.strictness.phone_identity
    if not by_phone and drop_taken_phone(account, attrs, None):
        partial.append("phone_number")
    existing = match(account, attrs, by_phone=by_phone)
    if existing is not None:
        raise duplicate(existing.id)
    for name in ("email", "phone_number", "external_id"):
        value = attrs.get(name)
        if value and value in account.index_for(name):
            raise duplicate(account.index_for(name)[value])
    profile, _created = upsert(account, attrs, None, nulls_clear=True)
    return _single(req, profile, 201, _partial(partial))


def create_or_update_profile(req: Request) -> Reply:
    """POST /api/profile-import: 201 when created, 200 when updated."""
    _check_size(req)
    data = data_object(req.json(), "profile")
    attrs, partial = clean_attributes(
        attributes_of(data), allow_kx=True, lowercase=req.state.config.lowercase_emails
    )
    attrs.pop("_kx", None)
    profile_id = data.get("id")
    if profile_id is not None and not isinstance(profile_id, str):
        raise invalid("'id' must be a string.", pointer="/data/id")
    profile, created = upsert(
        req.acct,
        attrs,
        profile_id,
        nulls_clear=True,
        by_phone=req.state.strictness.phone_identity,
        partial=partial,
    )
    return _single(req, profile, 201 if created else 200, _partial(partial))


def update_profile(req: Request) -> Reply:
    """PATCH /api/profiles/{id}: null clears, omitted keeps; 409 on an identifier collision."""
    _check_size(req)
    profile = _profile_or_404(req.acct, req.params["id"])
    data = data_object(req.json(), "profile")
    if data.get("id") != profile.id:
        raise invalid("The id in the body must match the id in the URL.", pointer="/data/id")
    attrs, partial = clean_attributes(
        attributes_of(data), allow_kx=False, lowercase=req.state.config.lowercase_emails
    )
    _apply_patch_properties(attrs, data.get("meta"), profile)
    if not req.state.strictness.phone_identity and drop_taken_phone(req.acct, attrs, profile):
        partial.append("phone_number")
    apply(req.acct, profile, attrs, nulls_clear=True)
    return _single(req, profile, 200, _partial(partial))


def _apply_patch_properties(attrs: dict[str, Any], meta: Any, profile: Profile) -> None:
    """``meta.patch_properties``: append / unappend / unset on custom properties."""
    if not isinstance(meta, dict) or not isinstance(meta.get("patch_properties"), dict):
        return
    props = dict(attrs.get("properties") or profile.fields.get("properties") or {})
    patch = meta["patch_properties"]
    for name, value in (patch.get("append") or {}).items():
        current = props.get(name)
        items = current if isinstance(current, list) else ([] if current is None else [current])
        props[name] = items + (value if isinstance(value, list) else [value])
    for name, value in (patch.get("unappend") or {}).items():
        current = props.get(name)
        if isinstance(current, list):
            props[name] = [item for item in current if item != value]
    unset = patch.get("unset") or []
    for name in [unset] if isinstance(unset, str) else unset:
        props.pop(name, None)
    profile.fields["properties"] = props
    attrs.pop("properties", None)


def get_profile(req: Request) -> Reply:
    """GET /api/profiles/{id}; ``include=lists`` adds the profile's lists."""
    account = req.acct
    profile = _profile_or_404(account, req.params["id"])
    reply = _single(req, profile, 200)
    if "lists" in req.query.get("include", ""):
        reply.body["included"] = [
            list_resource(account.lists[lid], req.base, {})
            for lid in account.list_ids_of(profile.id)
        ]
    return reply


def select_profiles(account: Account, terms: list[Term], lowercase: bool) -> Sequence[str]:
    """Profile ids matching the filter terms, in id order; O(1) per identifier value."""
    ids: Sequence[str] | None = None
    rest: list[Term] = []
    for term in terms:
        if term.field in ("id", "email", "phone_number", "external_id"):
            found: list[str] = []
            for value in values_of(term):
                if not isinstance(value, str):
                    raise invalid(
                        f"'{term.field}' must be compared to a string.", parameter="filter"
                    )
                if term.field == "id":
                    pid: str | None = value if value in account.profiles else None
                else:
                    key = normalize_email(value, lowercase) if term.field == "email" else value
                    pid = account.index_for(term.field).get(key)
                if pid is not None and pid not in found:
                    found.append(pid)
            ids = found if ids is None else [pid for pid in ids if pid in found]
        elif term.field != "_kx":
            rest.append(term)
    selected: Sequence[str] = account.order if ids is None else sorted(ids)
    for term in rest:
        if term.field in SUPPRESSION_FILTERS:
            selected = [pid for pid in selected
                        if matches_suppression(account.profiles[pid], term, _compare)]
            continue
        if term.field not in ("created", "updated"):
            continue
        selected = [
            pid for pid in selected if _compare(getattr(account.profiles[pid], term.field), term)
        ]
    return selected


def _compare(value: Any, term: Term) -> bool:
    bound = term.value
    if term.op == "greater-than":
        return bool(value > bound)
    if term.op == "less-than":
        return bool(value < bound)
    if term.op == "greater-or-equal":
        return bool(value >= bound)
    return bool(value <= bound)


def get_profiles(req: Request) -> Reply:
    """GET /api/profiles with equals/any on identifiers, created/updated, sort and cursor."""
    from sandbox.paging import paginate

    account = req.acct
    terms = parse_filter(req.query.get("filter"))
    check_allowed(terms, PROFILE_FILTERS)
    ids = select_profiles(account, terms, req.state.config.lowercase_emails)
    sort = req.query.get("sort", "")
    if sort:
        name = sort.lstrip("-")
        if name not in PROFILE_SORTS:
            raise invalid(f"'{sort}' is not a valid sort for profiles.", parameter="sort")
        if name in ("updated", "email"):
            ids = sorted(ids, key=lambda pid: (getattr(account.profiles[pid], name) or "", pid))  # type: ignore[no-any-return]
        elif name in SUPPRESSION_SORTS:
            ids = sorted(ids, key=lambda pid: suppression_sort_key(account.profiles[pid], name))
        if sort.startswith("-"):
            ids = list(reversed(ids))
    page, links = paginate(ids, req.query, req.base, "/api/profiles")
    data = [profile_resource(account.profiles[pid], req.base, req.query) for pid in page]
    return Reply(200, {"data": data, "links": links})


ROUTES = [
    Route("POST", "/api/profiles", "create_profile", create_profile),
    Route("GET", "/api/profiles", "get_profiles", get_profiles),
    Route("GET", "/api/profiles/{id}", "get_profile", get_profile),
    Route("PATCH", "/api/profiles/{id}", "update_profile", update_profile),
    Route("POST", "/api/profile-import", "create_or_update_profile", create_or_update_profile),
]
