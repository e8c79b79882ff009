"""Every Lua script of the service goes through one registry: found beside the module that
runs it, compiled by a real Redis, and run again after Redis forgot it."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import pytest
import redis

from shared.lua_scripts import lua_script, registered

ROOT = Path(__file__).resolve().parents[2]
ENTRY_MODULE = "workers.dramatiq_app"
"""Not imported here: it sets up the worker's broker (tests/workers/test_actor_imports.py)."""


def _import_the_service() -> None:
    for package in ("producers", "shared", "workers"):
        for found in pkgutil.walk_packages([str(ROOT / package)], prefix=f"{package}."):
            if found.name != ENTRY_MODULE:
                importlib.import_module(found.name)


def test_every_lua_file_of_the_service_is_registered_and_compiles(r: redis.Redis) -> None:
    _import_the_service()
    files = sorted(path.resolve() for package in ("producers", "shared", "workers")
                   for path in (ROOT / package).rglob("*.lua"))
    ours = [script for script in registered() if ROOT in script.path.parents]
    assert [script.path for script in ours] == files
    for script in ours:
        assert r.script_load(script.source) == script.on(r).sha, script.name


def test_a_script_is_one_object_per_file_and_runs_again_after_redis_forgot_it(
        r: redis.Redis, tmp_path: Path) -> None:
    (tmp_path / "echo.lua").write_text("return ARGV[1] .. redis.call('GET', KEYS[1])")
    module = str(tmp_path / "runner.py")
    echo = lua_script(module, "echo.lua")
    assert lua_script(module, "echo.lua") is echo
    r.set("k", "!")
    assert echo(r, keys=["k"], args=["hi"]) == "hi!"
    r.script_flush()
    assert echo(r, keys=["k"], args=["again"]) == "again!"
    with r.pipeline() as pipe:
        echo(pipe, keys=["k"], args=["piped"])
        assert pipe.execute() == ["piped!"]


def test_a_missing_script_is_refused_when_its_module_is_imported(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"no Lua script 'gone\.lua' beside"):
        lua_script(str(tmp_path / "runner.py"), "gone.lua")
