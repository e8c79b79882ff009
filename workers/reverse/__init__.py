"""Klaviyo -> CRM: list discovery, member pulls, removals, publishing and CRM delivery.

See ``docs/REVERSE_SYNC.md``. The actors that run these steps are in
:mod:`workers.actors.lists`; the scheduler decides when (:mod:`workers.reverse.schedule`).
"""
