"""Every knob is read through ``Settings`` (its tuning knobs in ``Settings.tuning``), under
the environment names operators already use, and each is documented for them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from shared.settings import Settings, Tuning

ROOT = Path(__file__).resolve().parents[2]


def _names(model: type[Settings] | type[Tuning]) -> set[str]:
    return {str(field.alias) for name, field in model.model_fields.items() if name != "tuning"}


def test_every_variable_the_settings_read_is_in_the_operations_environment_tables() -> None:
    tables = (ROOT / "docs/OPERATIONS.md").read_text().split("### Environment", 1)[1]
    tables = tables.split("\n### ", 1)[0]
    missing = sorted(name for name in _names(Settings) | _names(Tuning)
                     if f"`{name}`" not in tables)
    assert missing == []


def _settings_with(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings()


def test_the_tuning_knobs_keep_their_flat_environment_names(
        monkeypatch: pytest.MonkeyPatch) -> None:
    tuning = _settings_with(monkeypatch, SYNC_CHUNK_MAX_PROFILES="25", SYNC_JOB_PROFILE_PAGES="0",
                            SYNC_KLAVIYO_READ_TIMEOUT="1.5", SYNC_CRM_MAX_RETRIES="2").tuning
    assert (tuning.chunk_max_profiles, tuning.job_profile_pages, tuning.klaviyo_read_timeout,
            tuning.crm_max_retries) == (25, 0, 1.5, 2)


def test_an_empty_knob_is_the_default_and_an_unset_one_too(
        monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings_with(monkeypatch, SYNC_CRM_TIMEOUT_MS="", SYNC_CHUNK_MAX_BYTES=" ",
                              SYNC_ENVIRONMENT="", dramatiq_prom_port="")
    assert settings.tuning == Tuning.model_validate({})
    assert (settings.environment, settings.worker_metrics_port) == ("production", None)


def test_a_chunk_limit_of_zero_is_refused_naming_the_variable(
        monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="SYNC_CHUNK_MAX_PROFILES"):
        _settings_with(monkeypatch, SYNC_CHUNK_MAX_PROFILES="0")


def _reads_environment(path: Path) -> list[int]:
    lines = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                and node.value.id == "os" and node.attr in {"environ", "getenv"}:
            lines.append(node.lineno)
    return lines


def test_no_module_of_the_service_reads_the_environment_around_the_settings() -> None:
    found = {str(path.relative_to(ROOT)): lines
             for package in ("producers", "shared", "workers")
             for path in sorted((ROOT / package).rglob("*.py"))
             if (lines := _reads_environment(path))}
    assert found == {}
