"""The Lua scripts that write the typed records use the field names and statuses the records
declare (shared/state/batch_record.py, chunk_record.py, account_state.py): a field renamed
on one side only would otherwise go unnoticed until a batch never completes."""

from __future__ import annotations

import re
from enum import StrEnum

import pytest

from shared.lua_scripts import LuaScript
from shared.state.account_state import StateField
from shared.state.batch_record import BatchField, BatchStatus
from shared.state.chunk_record import ChunkField, ChunkStatus
from workers.push.lifecycle import CHUNK_DONE, COMPLETE_BATCH, START_BATCH

HASH_WRITES = {"HSET", "HSETNX", "HINCRBY", "HINCRBYFLOAT"}
HASH_READS = {"HGET", "HEXISTS", "HDEL", "HMGET"}
STATUSES: dict[type[StrEnum], type[StrEnum]] = {BatchField: BatchStatus, ChunkField: ChunkStatus}

# script -> KEYS index -> the record that key is
RECORDS: dict[str, tuple[LuaScript, dict[int, type[StrEnum]]]] = {
    "start_batch.lua": (START_BATCH, {1: StateField, 6: BatchField}),
    "complete_batch.lua": (COMPLETE_BATCH, {1: StateField, 2: BatchField}),
    "chunk_done.lua": (CHUNK_DONE, {1: ChunkField, 2: BatchField}),
}


def _calls(source: str) -> list[list[str]]:
    """The arguments of every ``redis.call(...)``, split at the top-level commas."""
    calls = []
    for start in (m.end() for m in re.finditer(r"redis\.call\(", source)):
        depth, args, current = 1, [], ""
        for char in source[start:]:
            if char == "(":
                depth += 1
            elif char == ")":
                depth -= 1
                if depth == 0:
                    break
            if char == "," and depth == 1:
                args.append(current.strip())
                current = ""
            else:
                current += char
        calls.append([*args, current.strip()])
    return calls


def _literal(arg: str) -> str | None:
    found = re.fullmatch(r"'([^']*)'|\"([^\"]*)\"", arg)
    return None if found is None else (found.group(1) or found.group(2) or "")


def _fields(script: LuaScript, records: dict[int, type[StrEnum]]
            ) -> list[tuple[type[StrEnum], str, str | None]]:
    """(record, field, literal value written or None) of each hash command on a record."""
    used = []
    for call in _calls(script.source):
        command = (_literal(call[0]) or "").upper()
        key = re.fullmatch(r"KEYS\[(\d+)\]", call[1]) if len(call) > 1 else None
        if key is None or int(key.group(1)) not in records:
            continue
        record, rest = records[int(key.group(1))], call[2:]
        if command in HASH_WRITES:
            pairs = list(zip(rest[::2], rest[1::2], strict=True))
            used += [(record, field, _literal(value)) for field, value in pairs]
        elif command in HASH_READS:
            used += [(record, field, None) for field in rest]
    return used


@pytest.mark.parametrize("name", sorted(RECORDS))
def test_the_scripts_write_and_read_only_the_fields_the_records_declare(name: str) -> None:
    script, records = RECORDS[name]
    used = _fields(script, records)
    assert used, f"{name} touches none of its records: the parse is wrong"
    for record, field, _ in used:
        if re.fullmatch(r"ARGV\[[^]]+\]", field):
            continue  # a name Python passes in (the counts of batch_record.count_args)
        literal = _literal(field)
        assert literal is not None, f"{name}: a field that is not a literal: {field}"
        assert literal in set(record), f"{name}: {literal!r} is no {record.__name__}"


@pytest.mark.parametrize("name", sorted(RECORDS))
def test_the_statuses_the_scripts_write_are_the_records_statuses(name: str) -> None:
    script, records = RECORDS[name]
    for record, field, value in _fields(script, records):
        if _literal(field) == "status" and value is not None:
            assert value in set(STATUSES[record]), f"{name}: status {value!r}"


def test_a_misspelt_field_is_caught() -> None:
    """The check above can fail: a script with a field no record declares is refused."""
    wrong = LuaScript.__new__(LuaScript)
    wrong.__dict__["source"] = "redis.call('HSET', KEYS[1], 'runing', ARGV[1])"
    [(record, field, _)] = _fields(wrong, {1: StateField})
    assert _literal(field) not in set(record)
