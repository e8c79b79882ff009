"""Sync -> Klaviyo: a batch's life (:mod:`workers.push.lifecycle`), its plan
(:mod:`workers.push.plan`), its delivery (:mod:`workers.push.deliver`) and the actor that
drives them (:mod:`workers.push.batch`).

Importing an actor module starts no broker: the actors are declared on
:func:`workers.runtime.broker.declaring_broker` -- the broker ``setup_broker`` made, or a
placeholder that connects to nothing and that ``setup_broker`` later replaces. So the
scheduler, the CLI and the tests import actors at the top of a module, like any other.
"""

from __future__ import annotations

from workers.runtime.broker import declaring_broker

declaring_broker()
