"""Applying and reverting each fault kind, and replaying a journal after a crash.

Every fault is applied as a journal entry first (what to revert and how), so its revert
needs nothing but the entry and a runtime: :func:`revert_entry` is what the run's own
cleanup, ``envctl gc``, ``envctl down`` and ``envctl fault`` all call.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from envctl.errors import EnvctlError
from envctl.faults.journal import Journal
from envctl.faults.mock import MockFaultState, simulation
from envctl.faults.models import FaultSpec
from envctl.faults.proxies import ProxyProcess, set_toxics
from envctl.runtime.base import ContainerControl, Runtime

STOP_TIMEOUT = 10.0
"""Seconds a ``stop`` / ``restart`` gives the service to exit before it is killed."""

log = logging.getLogger("envctl.faults")


class FaultUnavailable(EnvctlError):
    """A fault cannot be done to this service here (what, why, and what would make it work)."""


@dataclass
class ServiceTarget:
    """What a fault needs to know about one service of a run."""

    service: str
    container: str | None = None
    """Container name (None: the service has no container of envctl's)."""
    network: str | None = None
    aliases: list[str] = field(default_factory=list)
    proxy: ProxyProcess | None = None
    labels: dict[str, str] = field(default_factory=dict)
    """The run's labels (for the isolation network of a partition)."""
    mock: MockFaultState | None = None
    """Set when the service runs as its in-memory double: faults are simulated there."""
    native: bool = False
    """The service runs as a native process (no container to fault)."""


def container_control(runtime: Runtime | None) -> ContainerControl | None:
    """The runtime's container control: itself, or the Docker runtime behind a combined one
    (docker + native processes)."""
    if runtime is None:
        return None
    if isinstance(runtime, ContainerControl):
        return runtime
    docker = getattr(runtime, "docker", None)
    return docker if isinstance(docker, ContainerControl) else None


def _control(runtime: Runtime | None, fault: FaultSpec, target: ServiceTarget) -> ContainerControl:
    if target.native:
        raise FaultUnavailable(
            f"{fault.label}: service '{fault.service}' runs as a native process "
            "(runtime: native); faults are done to containers: run it with runtime: docker"
        )
    if target.container is None or runtime is None:
        raise FaultUnavailable(
            f"{fault.label}: service '{fault.service}' has no container of this run "
            "(external or cloud services cannot be faulted; only docker ones)"
        )
    control = container_control(runtime)
    if control is None:
        raise FaultUnavailable(
            f"{fault.label}: the runtime ({runtime.describe()}) cannot pause, stop, "
            "disconnect or limit processes; run the service in docker mode"
        )
    return control


def proxy_values(fault: FaultSpec) -> dict[str, Any]:
    """What the fault proxy applies for a proxy fault."""
    if fault.kind == "latency":
        return {"delay": fault.delay, "jitter": fault.jitter}
    if fault.kind == "loss":
        return {"loss": fault.percent / 100}
    if fault.kind == "bandwidth":
        return {"rate": fault.kbps * 1024}
    if fault.kind == "reset":
        return {"mode": "reset"}
    if fault.kind == "timeout":
        return {"mode": "timeout"}
    if fault.kind == "partition":
        return {"mode": "refuse"}
    raise AssertionError(fault.kind)


def merged_toxics(entries: Mapping[str, Mapping[str, Any]], proxy_label: str) -> dict[str, Any]:
    """The toxics of every active entry on one proxy, combined (one mode wins: the worst)."""
    merged: dict[str, Any] = {}
    order = ["pass", "timeout", "reset", "refuse"]
    for entry in entries.values():
        if entry.get("proxy") != proxy_label:
            continue
        for key, value in dict(entry.get("toxics") or {}).items():
            if key == "mode":
                current = merged.get("mode", "pass")
                merged["mode"] = max(current, value, key=order.index)
            else:
                merged[key] = max(float(merged.get(key, 0.0)), float(value))
    return merged


def apply_fault(
    runtime: Runtime | None,
    fault: FaultSpec,
    target: ServiceTarget,
    journal: Journal,
    key: str,
) -> dict[str, Any]:
    """Do ``fault`` to ``target``; the journal entry is written first. Returns the entry."""
    entry: dict[str, Any] = {
        "fault": fault.to_dict(),
        "label": fault.label,
        "kind": fault.kind,
        "service": fault.service,
        "container": target.container,
        "started": datetime.now(UTC).isoformat(timespec="milliseconds"),
    }
    if fault.needs_proxy:
        if target.proxy is None:
            raise FaultUnavailable(
                f"{fault.label}: service '{fault.service}' has no fault proxy in front of it. "
                "envctl puts one there when the scenario declares a network fault against the "
                "service (faults: or a fault step), or with `envctl up --fault-proxy "
                f"{fault.service}`. (tc netem, the kernel's way, is not used: many kernels, "
                "this project's CI among them, lack the sch_netem module)"
            )
        entry["proxy"] = target.proxy.to_label()
        entry["toxics"] = proxy_values(fault)
        journal.add(key, entry)
        set_toxics(target.proxy, merged_toxics(journal.entries(), entry["proxy"]))
        return entry
    control = _control(runtime, fault, target)
    name = str(target.container)
    state = control.fault_state(name)
    if state.status == "removed":
        raise FaultUnavailable(f"{fault.label}: container {name} does not exist")
    if fault.kind == "partition":
        entry["networks"] = list(state.networks)
        entry["aliases"] = {net: list(target.aliases) for net in state.networks}
        if fault.from_ == "network":
            isolation = f"{name}-isolated"
            entry["isolation_network"] = isolation
            journal.add(key, entry)
            assert runtime is not None
            runtime.create_network(isolation, target.labels)  # a docker network: see below
            control.connect_network(name, isolation, [])
            for network in state.networks:
                control.disconnect_network(name, network)
        else:
            journal.add(key, entry)
            for network in state.networks:
                control.disconnect_network(name, network)
        return entry
    if fault.kind in ("cpu", "memory"):
        entry["limits"] = {
            "nano_cpus": state.nano_cpus,
            "memory": state.memory,
            "memory_swap": state.memory_swap,
        }
        journal.add(key, entry)
        if fault.kind == "cpu":
            control.update_limits(name, nano_cpus=int(fault.cpus * 1_000_000_000))
        else:
            control.update_limits(name, memory=fault.memory, memory_swap=fault.memory)
        return entry
    entry["ports"] = dict(state.ports)
    journal.add(key, entry)
    if fault.kind == "pause":
        control.pause(name)
    elif fault.kind == "kill":
        control.kill(name, fault.signal)
    elif fault.kind in ("stop", "restart"):
        control.stop(name, STOP_TIMEOUT)
    elif fault.kind == "start":
        control.start(name)
    return entry


def revert_entry(
    runtime: Runtime | None,
    entry: Mapping[str, Any],
    others: Mapping[str, Mapping[str, Any]] | None = None,
) -> None:
    """Undo one applied fault. Idempotent: what is already back is left alone.

    ``others``: the run's other active entries (faults sharing a proxy keep theirs).
    """
    kind = str(entry.get("kind"))
    if entry.get("proxy"):
        proxy = ProxyProcess.from_label(str(entry["proxy"]))
        if proxy is None:
            return
        from envctl.faults.proxies import is_proxy

        if not is_proxy(proxy.pid):
            return  # the proxy is gone, and its faults with it
        set_toxics(proxy, merged_toxics(others or {}, str(entry["proxy"])))
        return
    name = entry.get("container")
    control = container_control(runtime)
    if not name or control is None:
        return
    state = control.fault_state(str(name))
    if state.status == "removed":
        return
    if kind == "pause":
        if state.status == "paused":
            control.unpause(str(name))
    elif kind in ("kill", "stop", "restart"):
        if state.status == "paused":
            control.unpause(str(name))
        elif state.status not in ("running", "restarting"):
            control.start(str(name))
    elif kind == "partition":
        aliases: Mapping[str, list[str]] = entry.get("aliases") or {}
        for network in entry.get("networks") or []:
            if network not in state.networks:
                control.connect_network(str(name), network, aliases.get(network, []))
        isolation = entry.get("isolation_network")
        if isolation:
            if isolation in state.networks:
                control.disconnect_network(str(name), str(isolation))
            if runtime is not None:
                _remove_network(runtime, str(isolation))
    elif kind in ("cpu", "memory"):
        # each kind restores only its own resource (a cpu and a memory fault may overlap)
        limits = entry.get("limits") or {}
        if kind == "cpu":
            control.update_limits(str(name), nano_cpus=int(limits.get("nano_cpus", 0)))
        else:
            memory = int(limits.get("memory", 0))
            swap = int(limits.get("memory_swap", 0))
            control.update_limits(str(name), memory=memory, memory_swap=swap if memory else None)


def _remove_network(runtime: Runtime, name: str) -> None:
    for resource in runtime.list_managed():
        if resource.kind == "network" and resource.name == name:
            runtime.remove([resource])


def replay_journal(runtime: Runtime | None, journal: Journal) -> list[str]:
    """Revert every fault a journal holds (a killed run's). Returns errors, never raises."""
    errors: list[str] = []
    entries = journal.entries()
    for key, entry in entries.items():
        others = {k: e for k, e in entries.items() if k != key}
        try:
            revert_entry(runtime, entry, others)
        except EnvctlError as exc:
            errors.append(f"run {journal.run_id}: revert {entry.get('label', key)}: {exc}")
            continue
        journal.remove(key)
        entries = {k: e for k, e in entries.items() if k != key}
    return errors


class FaultInjector:
    """Applies and reverts the faults of one run; every step goes to the journal and the
    audit log (``fault.start`` / ``fault.end``)."""

    def __init__(
        self,
        runtime: Runtime | None,
        targets: Mapping[str, ServiceTarget],
        journal: Journal,
        event: Callable[..., object],
    ) -> None:
        self.runtime = runtime
        self.targets = dict(targets)
        self.journal = journal
        self.event = event
        self._lock = threading.RLock()
        self._active: dict[str, tuple[FaultSpec, float]] = {}
        self._count = 0
        self.degraded: list[str] = []
        """Faults a mock could not simulate (the scenario is reported degraded)."""

    def next_key(self, fault: FaultSpec) -> str:
        with self._lock:
            self._count += 1
            return fault.id or f"{fault.kind}-{fault.service}-{self._count}"

    def apply(self, key: str, fault: FaultSpec, trigger: str) -> None:
        with self._lock:
            target = self.targets.get(fault.service) or ServiceTarget(fault.service)
            t0 = time.monotonic()
            if target.mock is not None:
                how = simulation(fault)
                if how is None:
                    reason = (
                        f"{fault.label} not simulated: service '{fault.service}' runs as its "
                        f"mock, which has no {fault.kind} (run it in real mode)"
                    )
                    self.degraded.append(reason)
                    self.event("fault.skipped", key=key, label=fault.label, reason=reason)
                    return
                target.mock.add(key, fault)
                self._active[key] = (fault, time.monotonic())
                self.event(
                    "fault.start",
                    key=key,
                    fault=fault.to_dict(),
                    label=fault.label,
                    trigger=trigger,
                    simulated=how,
                )
                return
            entry = apply_fault(self.runtime, fault, target, self.journal, key)
            self._active[key] = (fault, time.monotonic())
            self.event(
                "fault.start",
                key=key,
                fault=fault.to_dict(),
                label=fault.label,
                trigger=trigger,
                seconds=round(time.monotonic() - t0, 4),
                ports=entry.get("ports"),
            )

    def revert(self, key: str, reason: str) -> str | None:
        """Revert one active fault; returns an error message instead of raising."""
        with self._lock:
            if key not in self._active:
                return None
            fault, began = self._active.pop(key)
            target = self.targets.get(fault.service)
            if target is not None and target.mock is not None:
                target.mock.remove(key)
                self.event("fault.end", key=key, label=fault.label, reason=reason, simulated=True)
                return None
            entries = self.journal.entries()
            entry = entries.pop(key, None)
            t0 = time.monotonic()
            error: str | None = None
            if entry is not None:
                try:
                    revert_entry(self.runtime, entry, entries)
                except EnvctlError as exc:
                    error = str(exc)
            if error is None:
                self.journal.remove(key)
            self.event(
                "fault.end",
                key=key,
                label=fault.label,
                reason=reason,
                active_seconds=round(time.monotonic() - began, 4),
                seconds=round(time.monotonic() - t0, 4),
                error=error,
            )
            return error

    def active(self) -> list[str]:
        with self._lock:
            return list(self._active)

    def revert_all(self, reason: str) -> list[str]:
        errors = []
        for key in reversed(self.active()):
            error = self.revert(key, reason)
            if error:
                errors.append(error)
        return errors
