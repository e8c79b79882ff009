"""The producers: where contact changes enter contact-sync.

* :mod:`producers.webhook` -- the signed ``POST /v1/contact-events`` (FastAPI), with
  ``/healthz``, ``/readyz``, ``/metrics``; :mod:`producers.intake` decides each answer,
  :mod:`producers.signature` checks ``X-Sync-Signature``, :mod:`producers.validation`
  turns bytes into events with errors per event index and field (on the webhook as dicts,
  by :mod:`shared.wire_events`, the models' rules at half the cost).
* :mod:`producers.importer` -- CRM exports (CSV, JSONL), for ``contact-sync import``.
* :mod:`producers.python_intake` -- ``publish()`` for Python code inside the CRM.
* :mod:`producers.event_stream` -- ``append_events()`` / ``append_wire_events()``, the one
  writer of the events stream that the collector (workers) reads.
"""
