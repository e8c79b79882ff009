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
(:mod:`workers.gc_tuning`), and a million-contact batch peaked at 725 MB instead of ~450.

:func:`install` gives each of those modules an ``inspect`` whose ``currentframe`` hands the
method a copy of its arguments rather than the frame; ``getargvalues`` reads that copy the
way the real one reads a frame. The SDK's code is otherwise untouched.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
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


def install() -> int:
    """Give every API module of the SDK :data:`FRAMELESS_INSPECT`; how many were changed
    (idempotent: 0 the second time)."""
    import openapi_client.api as api

    changed = 0
    for info in pkgutil.iter_modules(api.__path__):
        module = importlib.import_module(f"{api.__name__}.{info.name}")
        if getattr(module, "inspect", None) is inspect:
            setattr(module, "inspect", FRAMELESS_INSPECT)  # noqa: B010 (a module global)
            changed += 1
    return changed
