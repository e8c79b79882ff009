"""The Dramatiq actors of contact-sync (batch, chunk, lists); ``dramatiq
workers.dramatiq_app`` runs them all.

Importing an actor module starts no broker: this package declares its actors on
:func:`workers.broker.declaring_broker` -- the broker ``setup_broker`` made, or a
placeholder that connects to nothing and that ``setup_broker`` later replaces. So the
scheduler, the CLI and the tests import actors at the top of a module, like any other.
"""

from __future__ import annotations

from workers.broker import declaring_broker

declaring_broker()
