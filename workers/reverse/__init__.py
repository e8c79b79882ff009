"""Klaviyo -> CRM: list discovery, member pulls, removals, the CRM's outbox and its delivery.

See ``docs/REVERSE_SYNC.md``. Its actors are in :mod:`workers.reverse.actors` (discovery
and pulls) and :mod:`workers.reverse.crm_delivery` (``deliver_to_crm``); the scheduler
decides when (:mod:`workers.reverse.schedule`). Like the push actors, they are declared on
:func:`workers.runtime.broker.declaring_broker`.
"""

from __future__ import annotations

from workers.runtime.broker import declaring_broker

declaring_broker()
