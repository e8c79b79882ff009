"""Sending a planned chunk to Klaviyo and recording its outcome: the ``upsert_chunk`` and
``poll_import_job`` actors (:mod:`workers.push.deliver.chunk`)."""
