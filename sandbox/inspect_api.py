"""The inspection API under ``/__sandbox/`` (no auth): reset, keys, limits, faults, calls, dumps.
``GET /__sandbox/`` lists every route of it with what it does.

The switches of Klaviyo's hard edges (strictness, key states, job cancel/expire) are in
``inspect_controls``."""

from __future__ import annotations

from typing import Any

from sandbox.config import FaultSpec
from sandbox.errors import invalid, not_found
from sandbox.faults import SHARES, WHOLE
from sandbox.filters import parse_datetime
from sandbox.http import Reply, Request, Route
from sandbox.ids import iso, now
from sandbox.inspect_controls import CONTROL_ROUTES, account_of, body_of
from sandbox.inspect_oauth import OAUTH_CONTROL_ROUTES
from sandbox.jsonapi import account_dump
from sandbox.store import ListRec
from sandbox.suppressions import SUPPRESSION_ROUTES


def reset(req: Request) -> Reply:
    """Drop all data, call counts and faults; keep the keys; strictness, key states and job
    timing back to their start-up values."""
    req.state.reset()
    return Reply(200, {"ok": True})


def add_key(req: Request) -> Reply:
    """Create the account of a key."""
    key = body_of(req).get("key")
    if not isinstance(key, str) or not key.strip():
        raise invalid("'key' is required.", pointer="/key")
    req.state.store.add_key(key.strip())
    return Reply(201, {"key": key.strip()})


def set_limits(req: Request) -> Reply:
    """``{"mode": "on"|"off", "scale": 1.0}``."""
    body = body_of(req)
    mode = body.get("mode", "on")
    if mode not in ("on", "off"):
        raise invalid("'mode' must be 'on' or 'off'.", pointer="/mode")
    scale = body.get("scale", 1.0)
    if not isinstance(scale, (int, float)) or scale <= 0:
        raise invalid("'scale' must be a positive number.", pointer="/scale")
    req.state.limiter.configure(mode, float(scale))
    return Reply(200, {"mode": mode, "scale": float(scale)})


def set_faults(req: Request) -> Reply:
    """``{"operation": "bulk_import_profiles"|"*", "status_429": 0.3, "status_403_html": 0.2,
    "omit_retry_after": 1, ...}`` (the FaultSpec fields; shares in 0..1)."""
    body = body_of(req)
    operation = body.pop("operation", "*")
    if not isinstance(operation, str):
        raise invalid("'operation' must be a string.", pointer="/operation")
    spec = FaultSpec()
    for name, value in body.items():
        if name not in SHARES + WHOLE:
            raise invalid(f"'{name}' is not a fault setting.", pointer=f"/{name}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise invalid(f"'{name}' must be a non-negative number.", pointer=f"/{name}")
        if name in SHARES and value > 1:
            raise invalid(f"'{name}' is a share of calls: at most 1.", pointer=f"/{name}")
        setattr(spec, name, int(value) if name in WHOLE else float(value))
    req.state.faults.set(operation, spec)
    return Reply(200, req.state.faults.describe())


def clear_faults(req: Request) -> Reply:
    """No more faults."""
    req.state.faults.clear()
    return Reply(200, {})


def get_faults(req: Request) -> Reply:
    """The fault table."""
    return Reply(200, req.state.faults.describe())


def calls(req: Request) -> Reply:
    """``{operation: {status: count}}``; ``?key=`` for one account."""
    return Reply(200, req.state.calls_json(req.query.get("key")))


def requests(req: Request) -> Reply:
    """The request log: ``{"requests": [{key, operation, status, arrived, answered,
    retry_after}]}`` in arrival order; ``?key=`` and ``?operation=`` narrow it."""
    found = req.state.requests_json(req.query.get("key"), req.query.get("operation"))
    return Reply(200, {"requests": found})


def set_jobs(req: Request) -> Reply:
    """``{"mode": "instant"|"async", "delay_ms": N, "processing_ms": M}``: bulk-import job
    timing; an ``async`` job stays ``queued`` N ms, then ``processing`` M ms."""
    body = body_of(req)
    mode = body.get("mode", "async")
    if mode not in ("instant", "async"):
        raise invalid("'mode' must be 'instant' or 'async'.", pointer="/mode")
    times: dict[str, int] = {}
    for name in ("delay_ms", "processing_ms"):
        value = body.get(name, 0)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise invalid(f"'{name}' must be a non-negative integer.", pointer=f"/{name}")
        times[name] = value
    req.state.job_mode = mode
    req.state.job_delay_ms = times["delay_ms"]
    req.state.job_processing_ms = times["processing_ms"]
    return Reply(200, {"mode": mode, **times})


def profiles(req: Request) -> Reply:
    """Every profile of an account with subscriptions and list ids."""
    return Reply(200, account_dump(account_of(req)))


def _list_json(rec: ListRec) -> dict[str, Any]:
    return {
        "id": rec.id,
        "name": rec.name,
        "opt_in_process": rec.opt_in_process,
        "created": iso(rec.created),
        "members": [
            {"profile_id": pid, "joined_group_at": iso(joined)} for joined, pid in rec.by_joined()
        ],
    }


def lists(req: Request) -> Reply:
    """Every list of an account with its members and their joined_group_at."""
    return Reply(200, {"lists": [_list_json(rec) for rec in account_of(req).lists.values()]})


def _member_ids(req: Request) -> tuple[ListRec, list[str], dict[str, Any]]:
    account = account_of(req)
    rec = account.lists.get(req.params["id"])
    if rec is None:
        raise not_found("No list has that id.")
    body = body_of(req)
    ids = body.get("profile_ids")
    if not isinstance(ids, list) or not all(isinstance(x, str) for x in ids):
        raise invalid("'profile_ids' must be an array of profile ids.", pointer="/profile_ids")
    unknown = [pid for pid in ids if pid not in account.profiles]
    if unknown:
        raise invalid(f"Unknown profile ids: {', '.join(unknown[:5])}.", pointer="/profile_ids")
    return rec, ids, body


def add_members(req: Request) -> Reply:
    """``{"profile_ids": [...], "joined_group_at": "..."}``: a sign-up at that time.

    Unlike the API's add, a member who is already there gets the new joined_group_at."""
    rec, ids, body = _member_ids(req)
    raw = body.get("joined_group_at")
    try:
        joined = parse_datetime(raw) if isinstance(raw, str) else now()
    except ValueError:
        raise invalid(
            "'joined_group_at' must be an ISO 8601 datetime.", pointer="/joined_group_at"
        ) from None
    for pid in ids:
        rec.add(pid, joined, keep_existing=False)
    return Reply(200, _list_json(rec))


def remove_members(req: Request) -> Reply:
    """``{"profile_ids": [...]}``: members leave."""
    rec, ids, _ = _member_ids(req)
    for pid in ids:
        rec.remove(pid)
    return Reply(200, _list_json(rec))


def create_list(req: Request) -> Reply:
    """``{"name": "Newsletter"}``: a list made in Klaviyo's UI (single opt-in by default)."""
    account = account_of(req)
    body = body_of(req)
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise invalid("'name' is required.", pointer="/name")
    opt_in = body.get("opt_in_process", req.state.config.default_opt_in)
    if opt_in not in ("single_opt_in", "double_opt_in"):
        raise invalid("'opt_in_process' must be single_opt_in or double_opt_in.",
                      pointer="/opt_in_process")
    return Reply(201, _list_json(account.new_list(name.strip(), opt_in)))


def index(_req: Request) -> Reply:
    """This list: every route of the inspection API and what it does."""
    routes = [{"method": route.method, "path": route.template,
               "does": " ".join((route.handler.__doc__ or "").split("\n\n")[0].split())}
              for route in INSPECT_ROUTES]
    return Reply(200, {"inspection_api": routes})


def delete_list(req: Request) -> Reply:
    """A list deleted in Klaviyo's UI: it and its memberships are gone."""
    account = account_of(req)
    if account.lists.pop(req.params["id"], None) is None:
        raise not_found("No list has that id.")
    return Reply(200, {"deleted": req.params["id"]})


_P = "/__sandbox"
INSPECT_ROUTES = [
    Route("GET", _P, "index", index),
    Route("POST", _P + "/reset", "reset", reset),
    Route("POST", _P + "/keys", "keys", add_key),
    Route("PUT", _P + "/limits", "limits", set_limits),
    Route("PUT", _P + "/faults", "faults", set_faults),
    Route("GET", _P + "/faults", "faults", get_faults),
    Route("DELETE", _P + "/faults", "faults", clear_faults),
    Route("GET", _P + "/calls", "calls", calls),
    Route("GET", _P + "/requests", "requests", requests),
    Route("PUT", _P + "/jobs", "jobs", set_jobs),
    Route("GET", _P + "/accounts/{key}/profiles", "profiles", profiles),
    Route("GET", _P + "/accounts/{key}/lists", "lists", lists),
    Route("POST", _P + "/accounts/{key}/lists", "lists", create_list),
    Route("POST", _P + "/accounts/{key}/lists/{id}/members", "members", add_members),
    Route("DELETE", _P + "/accounts/{key}/lists/{id}/members", "members", remove_members),
    Route("DELETE", _P + "/accounts/{key}/lists/{id}", "list", delete_list),
    *CONTROL_ROUTES,
    *OAUTH_CONTROL_ROUTES,
    *SUPPRESSION_ROUTES,
]
