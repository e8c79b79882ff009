"""Every process starts its telemetry in the same order: logging first, Sentry last (in a
worker before its broker), the worker's retry filter in between."""

from __future__ import annotations

import json
import logging

import pytest
import sentry_sdk

from shared.settings import Settings
from shared.telemetry.retry_logging import WORKER_LOGGER, OneTraceback
from shared.telemetry.startup import STEPS, Process, start_process
from tests.support.sentry_envelopes import Envelopes


@pytest.mark.parametrize("process", sorted(STEPS))
def test_each_process_starts_logging_first_and_sentry_last(process: Process) -> None:
    names = [name for name, _ in STEPS[process]]
    assert names[0] == "logging"
    assert names[-1] == "sentry"
    assert ("retry logging" in names) == (process == "worker")


def test_a_started_worker_logs_masked_json_keeps_one_traceback_and_reports_to_sentry(
        envelopes: Envelopes, restore_root_logging: None,
        capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings.model_validate({"SENTRY_DSN": envelopes.dsn, "SYNC_LOG_FORMAT": "json"})
    assert start_process(settings, "worker") == ["logging", "retry logging", "sentry"]
    logging.getLogger("contact_sync.test").warning("could not sync ann.lee@example.com")
    [line] = [json.loads(text) for text in capsys.readouterr().err.splitlines()
              if "could not sync" in text]
    assert line["process"] == "worker"
    assert "ann.lee@example.com" not in line["message"]
    assert any(isinstance(f, OneTraceback) for f in logging.getLogger(WORKER_LOGGER).filters)
    assert sentry_sdk.get_client().is_active()
