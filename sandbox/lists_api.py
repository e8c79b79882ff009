"""Lists: get (10 a page), get one, create (150 a day), members with joined_group_at, add/remove."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sandbox.errors import invalid, not_found
from sandbox.filters import check_allowed, parse_filter, values_of
from sandbox.http import Reply, Request, Route, attributes_of, data_object
from sandbox.identity import normalize_email
from sandbox.ids import now
from sandbox.jsonapi import list_resource, profile_resource
from sandbox.paging import paginate
from sandbox.store import Account, ListRec

MAX_MEMBERS_PER_CALL = 1000
_LIST_ONLY = {"equals", "any"}
LIST_FILTERS: dict[str, set[str]] = {
    "name": _LIST_ONLY,
    "id": _LIST_ONLY,
    "created": {"greater-than"},
    "updated": {"greater-than"},
}
MEMBER_FILTERS: dict[str, set[str]] = {
    "email": _LIST_ONLY,
    "phone_number": _LIST_ONLY,
    "push_token": _LIST_ONLY,
    "_kx": {"equals"},
    "joined_group_at": {"greater-than", "greater-or-equal", "less-than", "less-or-equal"},
}


def list_or_404(account: Account, list_id: str) -> ListRec:
    """The list, or 404."""
    rec = account.lists.get(list_id)
    if rec is None:
        raise not_found(f"A list with id '{list_id}' does not exist.")
    return rec


def get_lists(req: Request) -> Reply:
    """GET /api/lists: at most 10 a page."""
    account = req.acct
    terms = parse_filter(req.query.get("filter"))
    check_allowed(terms, LIST_FILTERS)
    recs = list(account.lists.values())
    for term in terms:
        if term.field in ("name", "id"):
            wanted = set(values_of(term))
            recs = [rec for rec in recs if getattr(rec, term.field) in wanted]
        else:
            recs = [rec for rec in recs if getattr(rec, term.field) > term.value]
    sort = req.query.get("sort", "")
    if sort:
        name = sort.lstrip("-")
        if name not in ("id", "name", "created", "updated"):
            raise invalid(f"'{sort}' is not a valid sort for lists.", parameter="sort")
        recs.sort(key=lambda rec: getattr(rec, name), reverse=sort.startswith("-"))
    page, links = paginate(recs, req.query, req.base, "/api/lists", default=10, maximum=10)
    return Reply(
        200, {"data": [list_resource(rec, req.base, req.query) for rec in page], "links": links}
    )


def get_list(req: Request) -> Reply:
    """GET /api/lists/{id}; ``additional-fields[list]=profile_count``."""
    rec = list_or_404(req.acct, req.params["id"])
    return Reply(
        200,
        {
            "data": list_resource(rec, req.base, req.query),
            "links": {"self": f"{req.base}/api/lists/{rec.id}/"},
        },
    )


def create_list(req: Request) -> Reply:
    """POST /api/lists: 201; the name is required."""
    data = data_object(req.json(), "list")
    attrs = attributes_of(data)
    name = attrs.get("name")
    if not isinstance(name, str) or not name.strip():
        raise invalid("'name' is required.", pointer="/data/attributes/name")
    opt_in = attrs.get("opt_in_process") or req.state.config.default_opt_in
    if opt_in not in ("single_opt_in", "double_opt_in"):
        raise invalid(
            "'opt_in_process' must be single_opt_in or double_opt_in.",
            pointer="/data/attributes/opt_in_process",
        )
    rec = req.acct.new_list(name, opt_in)
    return Reply(
        201,
        {
            "data": list_resource(rec, req.base, {}),
            "links": {"self": f"{req.base}/api/lists/{rec.id}/"},
        },
    )


def _members(req: Request) -> tuple[ListRec, Sequence[tuple[datetime, str]]]:
    account = req.acct
    rec = list_or_404(account, req.params["id"])
    terms = parse_filter(req.query.get("filter"))
    check_allowed(terms, MEMBER_FILTERS)
    low: tuple[datetime, bool] | None = None
    high: tuple[datetime, bool] | None = None
    wanted: set[str] | None = None
    for term in terms:
        if term.field == "joined_group_at":
            if not isinstance(term.value, datetime):
                raise invalid(
                    "joined_group_at must be compared to an unquoted ISO 8601 datetime.",
                    parameter="filter",
                )
            if term.op in ("greater-than", "greater-or-equal"):
                low = (term.value, term.op == "greater-or-equal")
            else:
                high = (term.value, term.op == "less-or-equal")
        elif term.field in ("email", "phone_number"):
            index = account.index_for(term.field)
            ids = set()
            for value in values_of(term):
                key = (
                    normalize_email(str(value), req.state.config.lowercase_emails)
                    if term.field == "email"
                    else str(value)
                )
                if key in index:
                    ids.add(index[key])
            wanted = ids if wanted is None else wanted & ids
        elif term.field == "push_token":
            wanted = set()
    rows: Sequence[tuple[datetime, str]] = (
        rec.joined_range(low, high) if (low or high) else rec.by_joined()
    )
    if wanted is not None:
        rows = [row for row in rows if row[1] in wanted]
    sort = req.query.get("sort", "")
    if sort not in ("", "joined_group_at", "-joined_group_at"):
        raise invalid(f"'{sort}' is not a valid sort for list profiles.", parameter="sort")
    if sort == "-joined_group_at":
        rows = rows[::-1]
    return rec, rows


def get_profiles_for_list(req: Request) -> Reply:
    """GET /api/lists/{id}/profiles: members with ``joined_group_at``."""
    rec, rows = _members(req)
    page, links = paginate(rows, req.query, req.base, f"/api/lists/{rec.id}/profiles")
    profiles = req.acct.profiles
    data = [
        profile_resource(profiles[pid], req.base, req.query, joined=joined) for joined, pid in page
    ]
    return Reply(200, {"data": data, "links": links})


def get_profile_ids_for_list(req: Request) -> Reply:
    """GET /api/lists/{id}/relationships/profiles."""
    rec, rows = _members(req)
    page, links = paginate(rows, req.query, req.base, f"/api/lists/{rec.id}/relationships/profiles")
    return Reply(
        200, {"data": [{"type": "profile", "id": pid} for _joined, pid in page], "links": links}
    )


def _profile_refs(req: Request) -> list[str]:
    body = req.json()
    items: Any = body.get("data") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise invalid("'data' must be an array of profile references.", pointer="/data")
    if len(items) > MAX_MEMBERS_PER_CALL:
        raise invalid(
            f"At most {MAX_MEMBERS_PER_CALL} profiles can be given per call.", pointer="/data"
        )
    ids: list[str] = []
    for i, item in enumerate(items):
        if (
            not isinstance(item, dict)
            or item.get("type") != "profile"
            or not isinstance(item.get("id"), str)
        ):
            raise invalid('Each item must be {"type": "profile", "id": ...}.', pointer=f"/data/{i}")
        if item["id"] not in req.acct.profiles:
            raise invalid(f"Profile '{item['id']}' does not exist.", pointer=f"/data/{i}/id")
        ids.append(item["id"])
    return ids


def add_profiles_to_list(req: Request) -> Reply:
    """POST /api/lists/{id}/relationships/profiles: 204; existing members keep joined_group_at."""
    rec = list_or_404(req.acct, req.params["id"])
    stamp = now()
    for pid in _profile_refs(req):
        rec.add(pid, stamp)
    return Reply(204)


def remove_profiles_from_list(req: Request) -> Reply:
    """DELETE /api/lists/{id}/relationships/profiles (body): 204; consent untouched."""
    rec = list_or_404(req.acct, req.params["id"])
    for pid in _profile_refs(req):
        rec.remove(pid)
    return Reply(204)


def get_lists_for_profile(req: Request) -> Reply:
    """GET /api/profiles/{id}/lists."""
    account = req.acct
    if req.params["id"] not in account.profiles:
        raise not_found(f"A profile with id '{req.params['id']}' does not exist.")
    recs = [account.lists[lid] for lid in account.list_ids_of(req.params["id"])]
    page, links = paginate(
        recs, req.query, req.base, f"/api/profiles/{req.params['id']}/lists", default=10, maximum=10
    )
    return Reply(
        200, {"data": [list_resource(rec, req.base, req.query) for rec in page], "links": links}
    )


ROUTES = [
    Route("GET", "/api/lists", "get_lists", get_lists),
    Route("POST", "/api/lists", "create_list", create_list),
    Route("GET", "/api/lists/{id}", "get_list", get_list),
    Route("GET", "/api/lists/{id}/profiles", "get_profiles_for_list", get_profiles_for_list),
    Route(
        "GET",
        "/api/lists/{id}/relationships/profiles",
        "get_profile_ids_for_list",
        get_profile_ids_for_list,
    ),
    Route(
        "POST",
        "/api/lists/{id}/relationships/profiles",
        "add_profiles_to_list",
        add_profiles_to_list,
    ),
    Route(
        "DELETE",
        "/api/lists/{id}/relationships/profiles",
        "remove_profiles_from_list",
        remove_profiles_from_list,
    ),
    Route("GET", "/api/profiles/{id}/lists", "get_lists_for_profile", get_lists_for_profile),
]
