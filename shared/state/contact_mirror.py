"""The contact mirror: the newest state of each contact the CRM sent, one key per contact
(:func:`shared.constants.contact`), written only by the collector's ``apply_event.lua``.

Every reader goes through :func:`read_mirrors` (or :func:`iter_mirrors`), and the one writer
encodes with :func:`encode_mirror`, so the stored form changes in this module only.

The stored form (compact, since 2026-12-02) is one line of header, a newline, one JSON array:

    <occurred_at epoch s>|<bulk 0/1><deleted 0/1/2>|<facet JSON>\\n<payload JSON>

  (deleted ``2``: erased, ``contact.erased``; its payload holds nothing but nulls: the
  tombstone that keeps the id and the time of the erasure, :mod:`workers.actors.erase`);

* the header is what ``apply_event.lua`` reads of the state it replaces: the time to compare
  (last-write-wins), and the facet to count down (:mod:`shared.state.contact_facets`);
* the facet is ``[role, company type, marketing code, email valid 0/1]``, role and type as
  the CRM sent them;
* the payload holds the rest of what the sync reads, by position:
  ``[origin code, email, first_name, last_name, phone, job_title, company name,
  properties]``, and when the CRM sent consent (mirror:2), a ninth item
  (:mod:`shared.consent.mirror_part`). The contact id is the key's; the event id and the
  company id, which the sync never reads, are not kept (a company with neither name nor
  type reads as none, which the sync treats alike).

That is about 40 % of the event's JSON. A mirror stored before (the event's JSON with its
field names, starting with ``{``) still reads: it is decoded as it always was, and counted
into the facets once by :func:`shared.state.contact_facets.count_old_mirrors`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson
import redis
from pydantic import BaseModel, ValidationError

from shared import constants as keys
from shared.consent.mirror_part import CONSENTED, consent_fields, consent_part, facet_marketing
from shared.emails import check_email
from shared.events import BULK_ORIGINS, ERASED, Company, Contact, MirroredContact, Origin
from shared.redis_text import as_text

ERASED_FLAG = "2"
"""The deleted flag of an erased contact's mirror (``apply_event.lua`` reads it too)."""
READ_STEP = 5000
"""Contacts per MGET: bounded replies, few round trips."""
ORIGIN_CODES: dict[str, str] = {"webhook": "w", "import": "i", "publish": "p", "resync": "r"}
CODE_ORIGINS: dict[str, Origin] = {v: k for k, v in ORIGIN_CODES.items()}  # type: ignore[misc]
MARKETING_CODES: dict[str, str] = {"subscribed": "s", "unsubscribed": "u", "unknown": "k",
                                   CONSENTED: "t"}
"""``consented`` (facets only): subscribed with a consent time, which the sync sends as a
subscribe (:func:`shared.consent.mirror_part.facet_marketing`); it reads back as
``subscribed``."""
CODE_MARKETING: dict[str, Any] = {**{v: k for k, v in MARKETING_CODES.items()},
                                  "t": "subscribed"}
_Model = TypeVar("_Model", bound=BaseModel)
_set = object.__setattr__
Facet = tuple[str | None, str | None, str, bool]
"""(role, company type, marketing, email valid) of one live contact."""


class UnreadableMirror(ValueError):
    """A stored mirror this release cannot read; the message says why (never a value)."""


def facet_json(role: str | None, company_type: str | None, marketing: str,
               email_valid: bool) -> bytes:
    """The facet as stored in the header and counted in the facets hash (marketing as its
    one-letter code)."""
    return orjson.dumps([role, company_type, MARKETING_CODES[marketing], int(email_valid)])


def _time(at: float) -> str:
    """``at`` as written in the header: no ``.0`` for a whole second."""
    return str(int(at)) if at.is_integer() else repr(at)


def encode_mirror(at: float, *, bulk: bool, deleted: bool, origin: str,
                  contact: dict[str, Any], email_valid: bool, erased: bool = False) -> bytes:
    """The compact stored form of one contact's state (``contact``: the event's validated
    contact dict, :mod:`shared.wire_events`). Run for every event the collector applies,
    hence written for speed."""
    get = contact.get
    company = get("company")
    name, company_type = (company.get("name"), company.get("type")) if company else (None, None)
    return b"".join((
        f"{_time(at)}|{int(bulk)}{ERASED_FLAG if erased else int(deleted)}|".encode(),
        orjson.dumps((get("role"), company_type, MARKETING_CODES[facet_marketing(contact)],
                      int(email_valid))),
        b"\n",
        orjson.dumps((ORIGIN_CODES[origin], get("email"), get("first_name"), get("last_name"),
                      get("phone"), get("job_title"), name, get("properties") or {},
                      *consent_part(contact)))))


MIRROR_FIELD = "mirror:2"
"""The events stream entry's field holding the event's compact mirror, written by the
producers (:mod:`producers.event_stream`) so that the collector stores it as it is: no
JSON parsed per event. The suffix is the compact form's revision: bump it when the form
changes, and a collector never stores an entry's mirror of another form (it reads the
entry's ``event`` instead, as it does an older release's entry)."""


def event_mirror(at: float, kind: str, contact: dict[str, Any], origin: str) -> bytes:
    """:func:`encode_mirror` of one validated event: its ``occurred_at`` epoch, its
    ``type`` and ``contact`` dict, and the origin it is appended with. The one place that
    says what an event's mirror is, for the producers and the collector alike."""
    deleted = kind in ("contact.deleted", ERASED)
    return encode_mirror(at, bulk=origin in BULK_ORIGINS, deleted=deleted, origin=origin,
                         contact=contact, erased=kind == ERASED,
                         email_valid=not deleted and check_email(contact.get("email")).valid)


def _decode_compact(contact_id: str, value: bytes) -> MirroredContact:
    head, _, payload = value.partition(b"\n")
    try:
        at, flags, facet = head.split(b"|", 2)
        role, company_type, marketing, _valid = orjson.loads(facet)
        marketing = CODE_MARKETING[marketing]
        (origin, email, first_name, last_name, phone, job_title, company_name,
         properties, *consent) = orjson.loads(payload)
        when = datetime.fromtimestamp(float(at), UTC)
    except (ValueError, TypeError, OverflowError, KeyError) as error:
        raise UnreadableMirror(f"its stored state cannot be decoded ({type(error).__name__})"
                               ) from None
    firm = (_built(Company, {"id": None, "name": company_name, "type": company_type})
            if company_name is not None or company_type is not None else None)
    person = _built(Contact, {
        "id": contact_id, "email": email, "first_name": first_name, "last_name": last_name,
        "phone": phone, "job_title": job_title, "role": role, "company": firm,
        "marketing": marketing, "properties": properties, **consent_fields(consent)})
    return _built(MirroredContact, {
        "event_id": "", "occurred_at": when, "deleted": flags[1:2] != b"0",
        "origin": CODE_ORIGINS.get(origin, "webhook"), "contact": person,
        "erased": flags[1:2] == ERASED_FLAG.encode()})


def _built(model: type[_Model], fields: dict[str, Any]) -> _Model:
    """``model.model_construct(**fields)`` for ``fields`` naming every field of ``model``:
    the instance pydantic's own would build, without its per-field loop over defaults and
    aliases (~11 us a model, three models a mirror, a mirror per contact a batch reads:
    a fifth of planning a first sync). Held to ``model_construct`` by
    tests/shared/test_contact_mirror.py."""
    built = model.__new__(model)
    _set(built, "__dict__", fields)
    _set(built, "__pydantic_fields_set__", set(fields))
    _set(built, "__pydantic_extra__", None)
    _set(built, "__pydantic_private__", None)
    return built


def decode_mirror(contact_id: str, value: bytes | str) -> MirroredContact:
    """One stored mirror value, of either form (raises :class:`UnreadableMirror`). A
    compact one was validated when collected, so it is not validated again."""
    raw = value.encode() if isinstance(value, str) else value
    if raw[:1] != b"{":
        return _decode_compact(contact_id, raw)
    try:
        return MirroredContact.model_validate_json(raw)
    except ValidationError as error:
        raise UnreadableMirror(unreadable_reason(error)) from None


def is_compact(value: bytes | str) -> bool:
    """Stored in the compact form (else: the event's JSON of an earlier release)."""
    return (value[:1] if isinstance(value, bytes) else value[:1].encode()) != b"{"


def unreadable_reason(error: ValidationError) -> str:
    """Why a stored mirror cannot be read any more (stored before a rule was tightened)."""
    return "its stored state is no longer valid: " + "; ".join(
        ".".join(str(p) for p in e["loc"]) for e in error.errors()[:3])


def read_mirrors(client: redis.Redis, account: str, ids: Sequence[str]
                 ) -> tuple[dict[str, MirroredContact], dict[str, str]]:
    """The mirrored states of ``ids`` (absent ones left out) and, apart, the ids whose
    stored state cannot be read with the reason: one contact must never stall the account."""
    contacts: dict[str, MirroredContact] = {}
    unreadable: dict[str, str] = {}
    for start in range(0, len(ids), READ_STEP):
        part = ids[start:start + READ_STEP]
        raw: list[Any] = client.mget([keys.contact(account, cid) for cid in part])
        for cid, value in zip(part, raw, strict=True):
            if value is None:
                continue
            try:
                contacts[cid] = decode_mirror(cid, value)
            except UnreadableMirror as error:
                unreadable[cid] = str(error)
    return contacts, unreadable


def iter_mirrors(client: redis.Redis, account: str, ids: Sequence[str]
                 ) -> Iterator[MirroredContact]:
    """The readable mirrors of ``ids``, a slice at a time (bounded memory)."""
    for start in range(0, len(ids), READ_STEP):
        contacts, _ = read_mirrors(client, account, ids[start:start + READ_STEP])
        yield from contacts.values()


def mirrored_ids(client: redis.Redis, account: str) -> Iterator[str]:
    """Every mirrored contact id of ``account`` (``contacts:times``), a page at a time."""
    start = 0
    while True:
        page: list[Any] = client.zrange(keys.contact_times(account), start,
                                        start + READ_STEP - 1)  # type: ignore[assignment]
        for cid in page:
            yield as_text(cid)
        if len(page) < READ_STEP:
            return
        start += READ_STEP
