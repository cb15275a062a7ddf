"""The fault timeline of one run: when each fault starts and ends, relative to the steps.

Triggers: ``at: {step: ID}`` (just before that step), ``after: {step: ID}`` (just after it),
``at: 2.5s`` (seconds after the first step began), none (when the steps begin). Ends:
``duration`` (seconds after it started), ``until: {step: ID}`` (just before that step),
none (when the steps end; a ``restart`` is back at once). Whatever is active when the
steps end, fail or are interrupted is reverted by :meth:`FaultTimeline.end`.

Timed starts and ends run on one scheduler thread that waits on a condition variable for
the next deadline (no polling, no fixed sleeps).
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Sequence

from envctl.errors import EnvctlError
from envctl.faults.inject import FaultInjector
from envctl.faults.models import FaultSpec, StepRef


class FaultTimeline:
    def __init__(self, faults: Sequence[FaultSpec], injector: FaultInjector) -> None:
        self.faults = list(faults)
        self.injector = injector
        self.errors: list[str] = []
        """Faults that could not be applied or reverted (the run fails with them)."""
        self._timers: list[tuple[float, int, str, FaultSpec, str]] = []
        self._seq = itertools.count()
        self._until: dict[str, list[str]] = {}
        """step id -> keys of active faults that end just before it."""
        self._cond = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None
        self._began = 0.0

    # -- the runner's calls ---------------------------------------------------------------
    def begin(self) -> None:
        """The steps begin: start untriggered faults, arm the timed ones."""
        self._began = time.monotonic()
        for fault in self.faults:
            if fault.at is None and fault.after is None:
                self._start(fault, "steps began")
            elif isinstance(fault.at, float):
                self._schedule(self._began + fault.at, "start", fault, f"at {fault.at:g}s")
        self._thread = threading.Thread(target=self._run, name="envctl-faults", daemon=True)
        self._thread.start()

    def before_step(self, step_id: str | None) -> None:
        if step_id is None:
            return
        for key in self._until.pop(step_id, []):
            self._revert(key, f"until step '{step_id}'")
        for fault in self.faults:
            if isinstance(fault.at, StepRef) and fault.at.step == step_id:
                self._start(fault, f"at step '{step_id}'")

    def after_step(self, step_id: str | None) -> None:
        if step_id is None:
            return
        for fault in self.faults:
            if fault.after is not None and fault.after.step == step_id:
                self._start(fault, f"after step '{step_id}'")

    def fault_step(self, fault: FaultSpec, step_label: str) -> str:
        """A ``fault`` step: apply now (raises when it cannot be applied)."""
        return self._start(fault, step_label, raise_errors=True)

    def end(self, reason: str) -> list[str]:
        """Stop the timers and revert every active fault. Returns the errors of the run."""
        with self._cond:
            self._closed = True
            self._timers.clear()
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()
        self.errors += self.injector.revert_all(reason)
        return self.errors

    # -- internals ------------------------------------------------------------------------
    def _start(self, fault: FaultSpec, trigger: str, *, raise_errors: bool = False) -> str:
        key = self.injector.next_key(fault)
        try:
            self.injector.apply(key, fault, trigger)
        except EnvctlError as exc:
            if raise_errors:
                raise
            self.errors.append(f"{fault.label} ({trigger}): {exc}")
            return key
        if fault.duration is not None:
            self._schedule(time.monotonic() + fault.duration, "end", fault, key)
        elif fault.until is not None:
            self._until.setdefault(fault.until.step, []).append(key)
        elif fault.kind in ("restart", "start"):
            self._revert(key, "restart: back at once" if fault.kind == "restart" else "done")
        return key

    def _revert(self, key: str, reason: str) -> None:
        error = self.injector.revert(key, reason)
        if error:
            self.errors.append(f"revert {key}: {error}")

    def _schedule(self, when: float, action: str, fault: FaultSpec, detail: str) -> None:
        with self._cond:
            if self._closed:
                return
            heapq.heappush(self._timers, (when, next(self._seq), action, fault, detail))
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closed:
                    if self._timers and self._timers[0][0] <= time.monotonic():
                        break
                    timeout = self._timers[0][0] - time.monotonic() if self._timers else None
                    self._cond.wait(timeout)
                if self._closed:
                    return
                _when, _seq, action, fault, detail = heapq.heappop(self._timers)
            if action == "start":
                self._start(fault, detail)
            else:
                self._revert(detail, f"duration {fault.duration:g}s ended")
