"""What a dead letter means to the actor whose message it was.

A message that runs out of retries becomes a dead letter (Dramatiq's ``nack``). The module
that declares an actor says what that means for its records with :func:`on_dead_letter`
(the push actors give their batch up: :mod:`workers.push.failures`); the broker's
:class:`DeadLetterHooks` runs it. So the broker knows no actor, and importing an actor
module is what registers its hook -- a worker imports every actor it runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dramatiq.broker import Broker
from dramatiq.middleware import Middleware

Hook = Callable[[Any], None]
"""``hook(message)``: called once, as the message becomes a dead letter."""

_hooks: dict[str, Hook] = {}


def on_dead_letter(*actor_names: str) -> Callable[[Hook], Hook]:
    """Register the decorated function as what a dead letter of these actors means."""

    def register(hook: Hook) -> Hook:
        for name in actor_names:
            _hooks[name] = hook
        return hook

    return register


class DeadLetterHooks(Middleware):
    """Runs the hook registered for the dead letter's actor, if any."""

    def after_nack(self, broker: Broker, message: Any) -> None:
        hook = _hooks.get(message.actor_name)
        if hook is not None:
            hook(message)
