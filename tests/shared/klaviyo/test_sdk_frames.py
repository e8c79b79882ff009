"""An SDK call no longer keeps its callers' locals alive (shared/klaviyo/sdk_frames.py):
with the cycle collector off, what the caller held is freed as soon as it returns."""

from __future__ import annotations

import gc
import inspect
import subprocess
import sys
import weakref
from typing import Any

from shared.klaviyo import sdk_frames
from shared.klaviyo.client import build_client


class Held:
    """Stands for a chunk's rows: something only the caller's frame refers to."""


def _call_holding(api: Any) -> weakref.ref[Held]:
    held = Held()
    answer: Any = api.Lists.get_lists()
    assert "data" in answer
    return weakref.ref(held)


def test_what_a_caller_held_during_an_sdk_call_is_freed_when_it_returns(sandbox: Any) -> None:
    api = build_client(sandbox.key, sandbox.url)
    gc.disable()
    try:
        held = _call_holding(api)
        assert held() is None  # before the fix: alive until a cycle collection
    finally:
        gc.enable()


def test_a_method_reads_the_same_arguments_as_from_its_frame() -> None:
    """What the generated methods do with it (``_uses_sparse_fields(args, values)``)."""

    def method(self: object, fields_list: list[str] | None = None, page: int = 1,
               **extra: Any) -> tuple[Any, Any]:
        real = inspect.currentframe()
        try:
            expected = inspect.getargvalues(real)  # type: ignore[arg-type]
        finally:
            del real
        frame = sdk_frames.FRAMELESS_INSPECT.currentframe()
        args, _, _, values = sdk_frames.FRAMELESS_INSPECT.getargvalues(frame)
        return (args, {k: values[k] for k in args}), (
            expected.args, {k: expected.locals[k] for k in expected.args})

    ours, theirs = method(object(), fields_list=["name"], page=2)
    assert ours == theirs
    assert ours[1]["fields_list"] == ["name"]


def test_installing_twice_changes_nothing_more() -> None:
    assert sdk_frames.install() == 0  # done when shared.klaviyo.client was imported


LAZY = """
import sys
import shared.klaviyo.client as client
from shared.klaviyo import sdk_frames
early = sorted(m for m in sys.modules if m.startswith(sdk_frames.PREFIX))
client.build_client("pk-any", "http://127.0.0.1:9").Profiles
import openapi_client.api.profiles_api as profiles_api
print(early, profiles_api.inspect is sdk_frames.FRAMELESS_INSPECT)
"""


def test_an_api_module_is_changed_when_the_sdk_first_imports_it_and_none_is_imported_early(
        ) -> None:
    done = subprocess.run([sys.executable, "-c", LAZY], capture_output=True, text=True,
                          timeout=120, check=True)
    assert done.stdout.split() == ["[]", "True"]  # importing our client loads no API module
