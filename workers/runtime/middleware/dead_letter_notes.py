"""Notes on a message as it becomes a dead letter: its final error and retry count.

Dramatiq stores a dead letter as the message was last enqueued, so a message that failed on
its first attempt would otherwise carry no error at all. The note is one Lua script
(``dlq_note.lua``). ``contact-sync dlq`` reads it (:mod:`shared.state.dead_letters`).

On RabbitMQ the broker dead-letters the message as it was delivered (a ``basic.nack``
into ``<queue>.XQ``): no note is written there; the count is.
"""

from __future__ import annotations

from typing import Any

from dramatiq import Message
from dramatiq.broker import Broker
from dramatiq.middleware import Middleware

from shared import constants as keys
from shared.lua_scripts import lua_script
from shared.state.dead_letters import canonical_queue
from shared.telemetry.metrics import record_dead_letter
from shared.telemetry.scrub import scrub_text
from workers.runtime.middleware.state_client import StateClient, state_of

SKIPPED = "SkipMessage: not run (its age limit was exceeded, or a middleware skipped it)"
DLQ_NOTE = lua_script(__file__, "dlq_note.lua")


class DeadLetterNotes(Middleware):
    """Writes the final error (masked) and retry count onto each message about to become a
    dead letter, and counts it (``contact_sync_dead_lettered_total``).

    The note is written in ``before_nack``, onto the live copy of the message that the
    broker's nack then moves into the dead set in one script: a dead letter is never visible
    without its error (written after the nack, a reader could see it in between).
    ``state``: where the count goes (the state's client; default: the broker's Redis).
    """

    def __init__(self, state: StateClient | None = None) -> None:
        self.state = state

    def after_skip_message(self, broker: Broker, message: Any) -> None:
        if message.failed:  # AgeLimit fails the message, then skips it: it dies unrun
            message.options["skipped"] = SKIPPED

    def before_nack(self, broker: Broker, message: Any) -> None:
        client = getattr(broker, "client", None)
        letter_id = message.options.get("redis_message_id")
        if client is None or letter_id is None:
            return
        options = dict(message.options)
        if options.get("traceback"):
            options["traceback"] = scrub_text(str(options["traceback"]))
        noted: Message[Any] = Message(**{**message.asdict(), "options": options})
        queue = canonical_queue(message.queue_name)
        DLQ_NOTE(client, keys=[keys.dramatiq_queue_messages(queue, _namespace(broker))],
               args=[letter_id, noted.encode()])

    def after_nack(self, broker: Broker, message: Any) -> None:
        client = state_of(self.state, broker)
        if client is not None:
            record_dead_letter(client, canonical_queue(message.queue_name), message.actor_name)


def _namespace(broker: Broker) -> str:
    return str(getattr(broker, "namespace", keys.DRAMATIQ_NAMESPACE))
