"""Dead letters of the Dramatiq Redis broker: list, inspect, replay, purge (``contact-sync dlq``).

Dramatiq's ``nack`` moves a message that failed for good from ``<ns>:<queue>.msgs`` into
``<ns>:<queue>.XQ`` (a sorted set of message ids scored by the time in ms) and
``<ns>:<queue>.XQ.msgs`` (id -> the encoded message, as it was last enqueued). The
broker forgets dead letters after 7 days (``dead_message_ttl``).

A replay is one Lua script (``dlq_replay.lua``): removed from the dead set and pushed on the
live queue in the same step. The replayed message is young again (``message_timestamp`` =
now, so ``AgeLimit`` does not kill it) and has its retry count and old error cleared.

The error each one shows was written onto it as it died, by the broker's
:class:`workers.runtime.middleware.dead_letter_notes.DeadLetterNotes`.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from typing import Any

import redis
from dramatiq import Message

from shared import constants as keys
from shared.lua_scripts import lua_script
from shared.redis_text import as_text
from shared.telemetry.scrub import scrub_text

DELAY_SUFFIX = ".DQ"
CLEARED_OPTIONS = ("retries", "traceback", "requeue_timestamp", "eta", "skipped")
"""Options dropped on replay: a replayed message starts over."""


DLQ_REPLAY = lua_script(__file__, "dlq_replay.lua")


def canonical_queue(queue: str) -> str:
    """``default.DQ`` -> ``default`` (Dramatiq keeps one dead set per queue)."""
    return queue[: -len(DELAY_SUFFIX)] if queue.endswith(DELAY_SUFFIX) else queue


def last_line(traceback: str | None) -> str:
    """The exception line of a traceback (``ValueError: ...``), masked."""
    if not traceback:
        return ""
    lines = [line for line in traceback.strip().splitlines() if line.strip()]
    return scrub_text(lines[-1].strip()) if lines else ""


@dataclass(frozen=True)
class DeadLetter:
    """One dead-lettered message."""

    id: str
    """The entry's id in the dead set (Dramatiq's ``redis_message_id``)."""
    queue: str
    failed_at: float
    """Epoch seconds."""
    message: Message[Any]

    @property
    def actor(self) -> str:
        return self.message.actor_name

    @property
    def retries(self) -> int:
        return int(self.message.options.get("retries", 0))

    @property
    def error(self) -> str:
        options = self.message.options
        found = last_line(options.get("traceback")) or options.get("skipped")
        return str(found) if found else "(no error recorded)"

    @property
    def traceback(self) -> str:
        return scrub_text(str(self.message.options.get("traceback") or ""))

    @property
    def arguments(self) -> str:
        """The call as text, ``sync_batch('acme', 'b-1')``: ids only, masked anyway."""
        parts = [json.dumps(arg) for arg in self.message.args]
        parts += [f"{name}={json.dumps(value)}" for name, value in self.message.kwargs.items()]
        return scrub_text(f"{self.actor}({', '.join(parts)})")

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "message_id": self.message.message_id,
            "queue": self.queue,
            "actor": self.actor,
            "args": json.loads(scrub_text(json.dumps(list(self.message.args)))),
            "kwargs": json.loads(scrub_text(json.dumps(self.message.kwargs))),
            "error": self.error,
            "failed_at": self.failed_at,
            "retries": self.retries,
            "enqueued_at": self.message.message_timestamp / 1000,
        }


def _decode(data: str | bytes) -> Message[Any]:
    return Message.decode(data.encode() if isinstance(data, str) else data)


def replayable(message: Message[Any], now_ms: int) -> Message[Any]:
    """The message as it goes back on its queue: young, no retries, no old error."""
    options = {k: v for k, v in message.options.items() if k not in CLEARED_OPTIONS}
    return dataclasses.replace(
        message,
        queue_name=canonical_queue(message.queue_name),
        message_timestamp=now_ms,
        options=options,
    )


class DeadLetters:
    """The dead letters of every queue of one Dramatiq namespace."""

    def __init__(self, client: redis.Redis, namespace: str = keys.DRAMATIQ_NAMESPACE) -> None:
        self.client = client
        self.namespace = namespace
        self._replay = DLQ_REPLAY.on(client)

    def queues(self) -> list[str]:
        """Names of the queues that have dead letters now."""
        prefix = f"{self.namespace}:"
        found = set()
        for key in self.client.scan_iter(match=keys.dramatiq_dead("*", self.namespace)):
            name = as_text(key)
            found.add(name[len(prefix) : -len(".XQ")])
        return sorted(found)

    def list(self, queue: str | None = None, actor: str | None = None) -> list[DeadLetter]:
        """Dead letters, oldest first, optionally of one queue and/or one actor."""
        letters: list[DeadLetter] = []
        for name in [queue] if queue else self.queues():
            dead = keys.dramatiq_dead(name, self.namespace)
            entries: list[tuple[str | bytes, float]] = list(
                self.client.zrange(dead, 0, -1, withscores=True)  # type: ignore[arg-type]
            )
            if not entries:
                continue
            ids = [as_text(entry_id) for entry_id, _ in entries]
            payloads = self.client.hmget(keys.dramatiq_dead_messages(name, self.namespace), ids)
            for entry_id, data, (_, score) in zip(ids, payloads, entries, strict=True):
                if data is None:  # expired between the two reads
                    continue
                letter = DeadLetter(entry_id, name, float(score) / 1000, _decode(data))
                if actor is None or letter.actor == actor:
                    letters.append(letter)
        letters.sort(key=lambda letter: letter.failed_at)
        return letters

    def get(self, letter_id: str) -> DeadLetter | None:
        """The dead letter with this id (or with this Dramatiq message id), if any."""
        for name in self.queues():
            data = self.client.hget(keys.dramatiq_dead_messages(name, self.namespace), letter_id)
            if data is not None:
                score = self.client.zscore(keys.dramatiq_dead(name, self.namespace), letter_id)
                return DeadLetter(letter_id, name, float(score or 0) / 1000, _decode(data))
        for letter in self.list():
            if letter.message.message_id == letter_id:
                return letter
        return None

    def replay(self, letter: DeadLetter, now: float | None = None) -> bool:
        """Put one dead letter back on its queue. False when it was not dead any more."""
        now_ms = int((time.time() if now is None else now) * 1000)
        message = replayable(letter.message, now_ms)
        done = self._replay(
            keys=[
                keys.dramatiq_dead(letter.queue, self.namespace),
                keys.dramatiq_dead_messages(letter.queue, self.namespace),
                keys.dramatiq_queue(letter.queue, self.namespace),
                keys.dramatiq_queue_messages(letter.queue, self.namespace),
            ],
            args=[letter.id, message.encode()],
        )
        return bool(done)

    def replay_all(self, queue: str | None = None, actor: str | None = None) -> int:
        """Replay every matching dead letter; returns how many went back."""
        return sum(self.replay(letter) for letter in self.list(queue, actor))

    def purge(self, queue: str | None = None) -> int:
        """Delete the dead letters of one queue (or all); returns how many were dropped."""
        dropped = 0
        for name in [queue] if queue else self.queues():
            dead = keys.dramatiq_dead(name, self.namespace)
            pipe = self.client.pipeline(transaction=True)
            pipe.zcard(dead)
            pipe.delete(dead, keys.dramatiq_dead_messages(name, self.namespace))
            dropped += int(pipe.execute()[0])
        return dropped

    def count(self) -> dict[str, int]:
        """Queue -> number of dead letters."""
        return {
            name: int(self.client.zcard(keys.dramatiq_dead(name, self.namespace)))
            for name in self.queues()
        }
