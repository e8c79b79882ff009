"""The one registry of the Lua scripts that write Redis state.

Each script is a ``.lua`` file beside the module that runs it, registered there at import
time by path::

    APPLY_EVENT = lua_script(__file__, "apply_event.lua")
    ...
    APPLY_EVENT(client, keys=[...], args=[...])      # or APPLY_EVENT.on(client)(...)

The source is read once per process; per Redis client one redis-py ``Script`` is kept,
which sends the source once (``SCRIPT LOAD`` on the first ``NOSCRIPT``) and ``EVALSHA``
from then on. A pipeline is a client too: the script is loaded before it executes.
:func:`registered` lists every script, so a test can check they all compile.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import redis
from redis.cluster import ClusterPipeline
from redis.commands.core import Script
from redis.typing import EncodableT, KeyT


class LuaScript:
    """One ``.lua`` file; call it with the client to run it on."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._scripts: weakref.WeakKeyDictionary[redis.Redis, Script] = (
            weakref.WeakKeyDictionary())
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.path.name

    @cached_property
    def source(self) -> str:
        return self.path.read_text()

    def on(self, client: redis.Redis) -> Script:
        """The script registered on ``client`` (made once per client)."""
        script = self._scripts.get(client)
        if script is None:
            with self._lock:
                script = self._scripts.get(client)
                if script is None:
                    script = client.register_script(self.source)
                    self._scripts[client] = script
        return script

    def __call__(self, client: redis.Redis, keys: Sequence[KeyT] = (),
                 args: Iterable[EncodableT] = ()) -> Any:
        if isinstance(client, ClusterPipeline):
            # A Redis Cluster pipeline refuses redis-py's script calls; EVAL as a plain
            # command is routed by its keys (one slot) and needs no SCRIPT LOAD per node.
            return client.execute_command("EVAL", self.source, len(keys), *keys, *args)
        return self.on(client)(keys=keys, args=args)

    def __repr__(self) -> str:
        return f"LuaScript({str(self.path)!r})"


_registry: dict[Path, LuaScript] = {}
_registry_lock = threading.Lock()


def lua_script(module_file: str, name: str) -> LuaScript:
    """The script ``name`` beside the module ``module_file`` (pass ``__file__``); one
    :class:`LuaScript` per file however often it is asked for. A missing file raises
    ``FileNotFoundError`` here, at import, not at the first call."""
    path = (Path(module_file).parent / name).resolve()
    if not path.is_file():
        raise FileNotFoundError(f"no Lua script {name!r} beside {module_file}")
    with _registry_lock:
        found = _registry.get(path)
        if found is None:
            found = _registry[path] = LuaScript(path)
    return found


def registered() -> list[LuaScript]:
    """Every script registered so far (by the modules imported so far), by path."""
    with _registry_lock:
        return [_registry[path] for path in sorted(_registry)]
