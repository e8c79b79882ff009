"""Hypothesis strategies of webhook requests, each with what the answer must be.

A :class:`Case` is a body, a signature header and the answers allowed; :func:`check_answer`
holds every rule of a good answer (no 5xx, refusals say what is wrong, nothing of a refused
request stored). The same cases run in-process (thousands) and against a real ``web``
process (a few hundred), see tests/producers/test_webhook_fuzz.py.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from hypothesis import strategies as st
from pydantic import ValidationError

from producers.signature import HEADER, compute, sign
from shared.accounts import DEFAULT_ACCOUNT
from shared.events import ContactEvent
from tests.support.accounts import TEST_ACCOUNT

SECRET = "whsec-fuzz-current"
OLD_SECRET = "whsec-fuzz-previous"
MAX_BYTES = 5 * 1024 * 1024
UNSIGNED = "(unsigned)"

Json = Any


@dataclass(frozen=True)
class Case:
    """One request and the answers it may get.

    ``signature``: the header value, ``None`` = signed with :data:`SECRET` when sent,
    :data:`UNSIGNED` = no header. ``events``: how many events a 202 must report.
    ``invalid``: the event indexes a 422 must name. ``mutated``: per event index, the field
    paths that were changed (every 422 error must point at one of them).
    """

    kind: str
    body: bytes
    allowed: frozenset[int]
    signature: str | None = None
    events: int | None = None
    invalid: frozenset[int] | None = None
    mutated: dict[int, tuple[str, ...]] = field(default_factory=dict)

    def header(self) -> dict[str, str]:
        if self.signature == UNSIGNED:
            return {"Content-Type": "application/json"}
        value = sign(SECRET, self.body) if self.signature is None else self.signature
        return {HEADER: value, "Content-Type": "application/json"}

    def __repr__(self) -> str:  # hypothesis prints the failing case: keep it readable
        return f"Case({self.kind}, {len(self.body)} bytes: {self.body[:300]!r})"


def check_answer(case: Case, status: int, payload: Json, stored: int) -> None:
    """Assert that ``status``/``payload`` is a good answer to ``case`` and that ``stored``
    (how many entries the request added to the events stream) matches it."""
    assert status in case.allowed, f"{case!r}: answered {status} {payload!r}"
    if status == 202:
        assert payload == {"accepted": stored}, f"{case!r}: {payload!r}, {stored} stored"
        if case.events is not None:
            assert stored == case.events
        return
    assert stored == 0, f"{case!r}: refused with {status} but {stored} entries were stored"
    detail = payload.get("detail") if isinstance(payload, dict) else None
    assert isinstance(detail, str) and len(detail) > 10, f"{case!r}: no detail: {payload!r}"
    if status == 400:
        assert "not valid UTF-8 JSON" in detail
    elif status == 401:
        assert HEADER in detail
    elif status == 413:
        assert "5 MB" in detail or "at most 1000" in detail
    elif status == 422:
        _check_schema_errors(case, payload["errors"])


def _check_schema_errors(case: Case, errors: list[dict[str, Any]]) -> None:
    assert errors, f"{case!r}: a 422 without errors"
    for error in errors:
        assert isinstance(error["field"], str) and error["field"], error
        assert isinstance(error["message"], str) and error["message"], error
        assert error["index"] is None or isinstance(error["index"], int), error
    if case.invalid is not None:
        named = {error["index"] for error in errors}
        assert named == set(case.invalid), f"{case!r}: named {named}, bad {case.invalid}"
    for error in errors:
        paths = case.mutated.get(error["index"], ())
        if paths:
            assert any(_related(error["field"], path) for path in paths), (
                f"{case!r}: error on {error['field']!r}, but only {paths} were changed")


def _related(reported: str, changed: str) -> bool:
    """The error is on the changed field, inside it, or on the object that lost a field."""
    return (reported == changed or reported.startswith((changed + ".", changed + "["))
            or changed.startswith(reported + ".") or reported == "(event)")


# --- building blocks ------------------------------------------------------------------------

def valid_event(n: int) -> dict[str, Json]:
    return {
        "event_id": f"evt-{n}", "account_id": TEST_ACCOUNT, "type": "contact.upserted",
        "occurred_at": "2026-11-22T10:00:00Z",
        "contact": {"id": f"C-{n}", "email": f"person{n}@example.com", "first_name": "Ann",
                    "last_name": "Lee", "phone": "+447700900123", "job_title": "Buyer",
                    "role": "Decision Maker",
                    "company": {"id": "CO-9", "name": "Acme Ltd", "type": "Customer"},
                    "marketing": "subscribed", "properties": {"region": "North"},
                    "marketing_consented_at": "2026-11-20T10:00:00Z",
                    "sms_marketing": "subscribed", "sms_consented_at": "2026-11-20T10:00:00Z"},
    }


def dumps(value: Json) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


TRICKY_TEXT = st.sampled_from([
    "", " ", "\t", "x" * 256, "y" * 321, "\u0000", "\u202eevil", "😀" * 70, "null", "0",
    "2026-11-22T10:00:00", "2026-11-22T10:00:00+05:30", "2026-11-22", "2026-13-40T99:00:00Z",
    "1763805600", "contact.deleted", "subscribed", "ann@example.com", "<script>", "../../etc",
    "' OR 1=1 --", "%s%s%n", "a" * 64, "A_b.c-1",
])
JSON_VALUES: st.SearchStrategy[Json] = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats() | st.text(max_size=40) | TRICKY_TEXT,  # NaN, Infinity: refused (422)
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                  max_size=4),
    max_leaves=12,
)
EVENT_PATHS: tuple[tuple[str, ...], ...] = (
    ("event_id",), ("account_id",), ("type",), ("occurred_at",), ("contact",),
    *(("contact", name) for name in ("id", "email", "first_name", "last_name", "phone",
                                     "job_title", "role", "company", "marketing",
                                     "properties", "marketing_consented_at",
                                     "sms_marketing", "sms_consented_at")),
    ("contact", "company", "id"), ("contact", "company", "name"), ("contact", "company", "type"),
    ("contact", "properties", "region"),
)


@st.composite
def mutated_event(draw: st.DrawFn, n: int) -> tuple[dict[str, Json], tuple[str, ...]]:
    """A valid event with 0-3 changes (a field set to any JSON value, removed, or an unknown
    field added); returns it with the dotted paths of what changed."""
    item = valid_event(n)
    changed: list[str] = []
    for _ in range(draw(st.integers(0, 3))):
        path = draw(st.sampled_from(EVENT_PATHS))
        parent: Any = item
        for key in path[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        if not isinstance(parent, dict):
            continue
        operation = draw(st.sampled_from(["set", "set", "text", "delete", "add"]))
        if operation == "add":
            name = draw(st.text(min_size=1, max_size=12))
            if name in parent:
                continue
            parent[name] = draw(JSON_VALUES)
            changed.append(".".join((*path[:-1], name)))
            continue
        if operation == "delete":
            parent.pop(path[-1], None)
        else:
            parent[path[-1]] = draw(TRICKY_TEXT | st.text(max_size=300) if operation == "text"
                                    else JSON_VALUES)
        changed.append(".".join(path))
    return item, tuple(changed)


def _for_an_unknown_account(item: Json) -> bool:
    """An event that fits the schema but whose account the fuzz tests did not create
    (they create :data:`TEST_ACCOUNT`; ``default`` always is): a 422 on ``account_id``."""
    return item["account_id"] not in (TEST_ACCOUNT, DEFAULT_ACCOUNT)


def _is_valid(item: Json) -> bool:
    try:
        ContactEvent.model_validate_json(dumps(item))
    except ValidationError:
        return False
    return True


# --- the strategies, one per kind of request -------------------------------------------------

@st.composite
def event_batches(draw: st.DrawFn) -> Case:
    """1-5 events, each possibly changed: 202 when all fit the contract, else a 422 that
    names exactly the bad events and only changed fields (the accounts are checked once the
    whole request fits the schema)."""
    drawn = [draw(mutated_event(n)) for n in range(draw(st.integers(1, 5)))]
    items = [item for item, _ in drawn]
    invalid = (frozenset(i for i, item in enumerate(items) if not _is_valid(item))
               or frozenset(i for i, item in enumerate(items) if _for_an_unknown_account(item)))
    return Case("events", dumps({"events": items}), frozenset({202, 422}),
                events=len(items), invalid=invalid,
                mutated={i: changed for i, (_, changed) in enumerate(drawn)})


def _break_utf8(body: bytes, position: int, junk: bytes) -> bytes:
    return body[:position] + junk + body[position:]


@st.composite
def raw_bodies(draw: st.DrawFn) -> Case:
    """Bytes that may not be JSON, not UTF-8, not an object, or a truncated batch."""
    valid = dumps({"events": [valid_event(1), valid_event(2)]})
    kind = draw(st.sampled_from(["bytes", "json", "truncated", "not-utf8", "not-utf8-string"]))
    if kind == "bytes":
        body = draw(st.binary(max_size=2000))
    elif kind == "json":
        body = dumps(draw(JSON_VALUES))
    elif kind == "truncated":
        body = valid[:draw(st.integers(0, len(valid) - 1))]
    elif kind == "not-utf8":
        junk = draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xe2\x82", b"\xed\xa0\x80",
                                     b"\xf8\x88\x80\x80\x80", b"\x80", b"\xc0\xaf"]))
        body = _break_utf8(valid, draw(st.integers(0, len(valid))), junk)
    else:  # invalid UTF-8 inside a string value, the JSON structure intact
        body = valid.replace(b'"Ann"', b'"A\xffn\xc3\x28"', 1)
        return Case(kind, body, frozenset({400}))
    return Case(kind, body, frozenset({202, 400, 422}))


@st.composite
def signatures(draw: st.DrawFn) -> Case:
    """A good body whose signature is missing, malformed, wrong, stale, made for another
    body, or made with a secret that is not active: always a 401."""
    body = dumps({"events": [valid_event(draw(st.integers(0, 10**6)))]})
    now = int(time.time())
    good = compute(SECRET, now, body)
    kind = draw(st.sampled_from(["unsigned", "garbage", "flipped", "stale", "future",
                                 "other-body", "other-secret", "empty-hmac", "no-t"]))
    if kind == "unsigned":
        header = UNSIGNED
    elif kind == "garbage":
        header = draw(st.text(alphabet=st.characters(codec="latin-1"), max_size=200))
    elif kind == "flipped":
        at = draw(st.integers(0, 63))
        digit = draw(st.sampled_from([d for d in "0123456789abcdef" if d != good[at]]))
        header = f"t={now},v1={good[:at]}{digit}{good[at + 1:]}"
    elif kind in ("stale", "future"):
        # >= 310 s, not 301: a "future" header 301 s ahead is only 300 s ahead (allowed)
        # once the clock has ticked a second between signing and checking.
        skew = draw(st.integers(310, 10**8)) * (-1 if kind == "stale" else 1)
        header = sign(SECRET, body, now + skew)
    elif kind == "other-body":
        other = dumps({"events": [valid_event(draw(st.integers(10**6 + 1, 2 * 10**6)))]})
        header = sign(SECRET, other, now)
    elif kind == "other-secret":
        header = sign(draw(st.text(min_size=1, max_size=30).filter(
            lambda s: s not in (SECRET, OLD_SECRET))), body, now)
    elif kind == "empty-hmac":
        header = f"t={now},v1="
    else:
        header = f"v1={good}"
    return Case(f"signature-{kind}", body, frozenset({401}), signature=header)


def _nest(depth: int, opener: str, closer: str, inner: str = "1") -> str:
    return opener * depth + inner + closer * depth


@st.composite
def nested_bodies(draw: st.DrawFn) -> Case:
    """Deeply nested arrays or objects at the root, in place of an event, or inside a
    contact's properties (where any JSON is allowed): stored whole or refused, never a 5xx."""
    depth = draw(st.integers(1, 100) | st.integers(100, 20_000))
    opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
    nested = _nest(depth, opener, closer)
    where = draw(st.sampled_from(["root", "event", "properties", "company"]))
    if where == "root":
        body = nested
    elif where == "event":
        body = '{"events": [' + nested + "]}"
    else:
        item = valid_event(1)
        marker = "__NESTED__"
        if where == "properties":
            item["contact"]["properties"] = {"deep": marker}
        else:
            item["contact"]["company"] = marker
        body = json.dumps({"events": [item]}).replace(f'"{marker}"', nested)
    return Case(f"nested-{where}-{depth}", body.encode(), frozenset({202, 400, 422}))


@st.composite
def sized_bodies(draw: st.DrawFn) -> Case:
    """0-1,000 valid events (202, all stored), more than 1,000 events, or over 5 MB (413)."""
    kind = draw(st.sampled_from(["up-to-1000", "over-1000", "over-5mb"]))
    if kind == "up-to-1000":
        count = draw(st.integers(0, 1000) | st.sampled_from([0, 1, 999, 1000]))
        events = [valid_event(n) for n in range(count)]
        return Case(kind, orjson.dumps({"events": events}), frozenset({202}), events=count)
    if kind == "over-1000":
        count = draw(st.integers(1001, 30_000))
        item = draw(st.sampled_from([{}, valid_event(1), 1]))
        return Case(kind, orjson.dumps({"events": [item] * count}), frozenset({413}))
    pad = draw(st.integers(MAX_BYTES - 20, MAX_BYTES + 3 * 1024 * 1024))
    body = b'{"events": [], "pad": "' + b"x" * pad + b'"}'
    return Case(kind, body, frozenset({413} if len(body) > MAX_BYTES else {422}))


KINDS: dict[str, Callable[[], st.SearchStrategy[Case]]] = {
    "events": event_batches, "raw": raw_bodies, "signature": signatures,
    "nested": nested_bodies, "sized": sized_bodies,
}
