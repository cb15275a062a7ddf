"""Faults against services that run as in-memory doubles (mock mode).

A double cannot be paused or partitioned, but what a client sees can be simulated: the
service unavailable (every call raises :class:`FaultInjected`) or slower (every call
waits the fault's latency first). Kinds with no meaning for a double (cpu, memory,
bandwidth, loss below 100 %) are not simulated: the scenario is reported ``degraded``
with the reason, never silently passed.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import random
import threading
import time
from typing import Any

from envctl.faults.models import FaultSpec
from envctl.tools.errors import ToolError

UNAVAILABLE_KINDS = ("kill", "stop", "restart", "pause", "partition", "reset", "timeout")


class FaultInjected(ToolError):
    """A call to a mock service that a simulated fault makes unavailable."""


def simulation(fault: FaultSpec) -> str | None:
    """How the double simulates ``fault`` (``unavailable`` / ``latency``), or None."""
    if fault.kind in UNAVAILABLE_KINDS or (fault.kind == "loss" and fault.percent >= 100):
        return "unavailable"
    if fault.kind == "latency":
        return "latency"
    if fault.kind == "start":
        return "none"
    return None


class MockFaultState:
    """The simulated faults of one mock service."""

    def __init__(self, service: str) -> None:
        self.service = service
        self._faults: dict[str, FaultSpec] = {}
        self._cond = threading.Condition()

    def add(self, key: str, fault: FaultSpec) -> None:
        with self._cond:
            self._faults[key] = fault

    def remove(self, key: str) -> None:
        with self._cond:
            self._faults.pop(key, None)
            self._cond.notify_all()

    def unavailable(self) -> FaultSpec | None:
        with self._cond:
            return next((f for f in self._faults.values() if simulation(f) == "unavailable"), None)

    def delay(self) -> float:
        with self._cond:
            faults = [f for f in self._faults.values() if simulation(f) == "latency"]
        return sum(max(0.0, f.delay + random.uniform(-f.jitter, f.jitter)) for f in faults)

    def wait_available(self, timeout: float) -> bool:
        """Until no simulated fault makes the service unavailable (event-driven)."""
        with self._cond:
            return self._cond.wait_for(
                lambda: not any(simulation(f) == "unavailable" for f in self._faults.values()),
                timeout,
            )

    def check(self) -> float:
        """Raise when unavailable; otherwise the latency to add to this call."""
        fault = self.unavailable()
        if fault is not None:
            raise FaultInjected(
                f"service '{self.service}' is unavailable: {fault.label} "
                "(simulated by its mock in mock mode)"
            )
        return self.delay()


class FaultyTool:
    """A tool whose calls pass through the service's simulated faults first."""

    def __init__(self, tool: Any, state: MockFaultState) -> None:
        self._tool = tool
        self._state = state

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._tool, name)
        if name == "aio":
            return FaultyTool(value, self._state)
        if name.startswith("_") or not callable(value):
            return value
        state = self._state
        if inspect.iscoroutinefunction(value):

            @functools.wraps(value)
            async def call_async(*args: Any, **kwargs: Any) -> Any:
                delay = state.check()
                if delay:
                    await asyncio.sleep(delay)  # the simulated latency itself
                return await value(*args, **kwargs)

            return call_async

        @functools.wraps(value)
        def call(*args: Any, **kwargs: Any) -> Any:
            delay = state.check()
            if delay:
                time.sleep(delay)  # the simulated latency itself
            return value(*args, **kwargs)

        return call

    def __repr__(self) -> str:
        return f"FaultyTool({self._tool!r})"
