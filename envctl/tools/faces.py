"""Sync and async faces of a tool.

Every tool has a sync face (the class itself) and an async face (its ``aio`` property, or the
``Async*`` class built with the same arguments). The sync face refuses to run inside a running
event loop — :func:`ensure_no_running_loop` raises
:class:`~envctl.tools.errors.SyncCallInEventLoop` immediately — because a blocking call there
stalls every other task and deadlocks when the call waits for something the loop must do.
Async faces built on a sync client run each call with :func:`asyncio.to_thread`; in that
worker thread no loop runs, so the sync face's check passes.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from envctl.tools.errors import RequiresRegistryWarning, SyncCallInEventLoop


def in_running_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def ensure_no_running_loop(owner: object, method: str, *, hint: str | None = None) -> None:
    """Raise :class:`SyncCallInEventLoop` when called from inside a running event loop.

    ``owner`` is the tool (or its class name); ``hint`` replaces the default advice
    ``await <tool>.aio.<method>(...)``.
    """
    if not in_running_loop():
        return
    name = owner if isinstance(owner, str) else type(owner).__name__
    raise SyncCallInEventLoop(name, method, hint)


_BUILDING: ContextVar[bool] = ContextVar("envctl_tools_building", default=False)


@contextmanager
def registry_building() -> Iterator[None]:
    """Mark the block as the registry building tools (real tools then do not warn)."""
    token = _BUILDING.set(True)
    try:
        yield
    finally:
        _BUILDING.reset(token)


def warn_unless_registry(tool: str, *, stacklevel: int = 3) -> None:
    """Warn that a real tool was created directly (see :class:`RequiresRegistryWarning`)."""
    if _BUILDING.get():
        return
    warnings.warn(
        f"{tool} was created directly; real tools set requires_registry = True: build them "
        "with envctl.tools.resolve_tools(scenario, endpoints, mode) so the scenario's "
        "dependency mode decides and the choice reaches the audit log (or silence "
        "RequiresRegistryWarning where creating it directly is intended)",
        RequiresRegistryWarning,
        stacklevel=stacklevel,
    )
