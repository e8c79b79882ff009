"""The official SDK's API methods, without the reference cycle each call makes.

Every generated method of ``openapi_client.api`` (the SDK's core) reads its own arguments
through its frame::

    frame = inspect.currentframe()
    args, _, _, values = inspect.getargvalues(frame)

The local ``frame`` is the frame itself: a cycle, which Python's documentation warns about
(``inspect``, "The interpreter stack"). Since Python 3.11 a frame object that outlives its
call also keeps its caller's frame, and that one its caller's, so each SDK call kept the
whole stack above it alive -- a chunk's 10,000 rows, its 3 MB request body, the parsed
answer -- until the cycle collector came by. A worker runs that collector rarely
(:mod:`workers.runtime.middleware.tuned_garbage_collector`), and a million-contact batch
peaked at 725 MB instead of ~450.

:func:`install` gives each of those modules an ``inspect`` whose ``currentframe`` hands the
method a copy of its arguments rather than the frame; ``getargvalues`` reads that copy the
way the real one reads a frame. The SDK's code is otherwise untouched. The SDK imports an API
module only when its client first touches it (``KlaviyoAPI.Profiles``...; all 27 of them
take ~3 s), so the modules already imported are changed at once and the rest as they are
imported (:class:`_ChangeOnImport`), never imported for it.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import inspect
import sys
import types
from typing import Any


class _Arguments:
    """What a generated method reads of its frame: its argument names and local values."""

    __slots__ = ("args", "values")

    def __init__(self, args: list[str], values: dict[str, Any]) -> None:
        self.args, self.values = args, values


def _currentframe() -> _Arguments:
    frame = sys._getframe(1)  # the SDK method that asked
    try:
        info = inspect.getargvalues(frame)
        return _Arguments(info.args, dict(info.locals))
    finally:
        del frame  # no cycle here either


def _getargvalues(frame: Any) -> inspect.ArgInfo:
    if isinstance(frame, _Arguments):
        return inspect.ArgInfo(frame.args, None, None, frame.values)
    return inspect.getargvalues(frame)


FRAMELESS_INSPECT = types.SimpleNamespace(currentframe=_currentframe,
                                          getargvalues=_getargvalues)
"""The ``inspect`` the SDK's API modules see once :func:`install` ran."""


PREFIX = "openapi_client.api."


def _change(module: types.ModuleType) -> bool:
    if getattr(module, "inspect", None) is not inspect:
        return False
    setattr(module, "inspect", FRAMELESS_INSPECT)  # noqa: B010 (a module global)
    return True


class _ChangingLoader(importlib.abc.Loader):
    """The module's own loader, then :func:`_change` on what it loaded."""

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self._loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: types.ModuleType) -> None:
        self._loader.exec_module(module)
        _change(module)

    def __getattr__(self, name: str) -> Any:  # get_source, get_filename... for tracebacks
        return getattr(self._loader, name)


class _ChangeOnImport(importlib.abc.MetaPathFinder):
    """Finds the SDK's API modules as Python would and hands them :class:`_ChangingLoader`."""

    def find_spec(self, fullname: str, path: Any, target: Any = None
                  ) -> importlib.machinery.ModuleSpec | None:
        if not fullname.startswith(PREFIX):
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is not None and spec.loader is not None:
            spec.loader = _ChangingLoader(spec.loader)
        return spec


def install() -> int:
    """Give the SDK's API modules :data:`FRAMELESS_INSPECT`: those imported now (how many
    were changed is returned; 0 the second time) and any imported later."""
    if not any(isinstance(finder, _ChangeOnImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _ChangeOnImport())
    loaded = [m for name, m in list(sys.modules.items()) if name.startswith(PREFIX)]
    return sum(_change(module) for module in loaded)
