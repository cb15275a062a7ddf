"""A run's faults: its targets, its timeline, the mocks' simulations, recovery checks.

Built by the runner when a scenario has faults (a ``faults:`` section or ``fault``
steps); the steps see it as ``ctx.faults``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from envctl.engine import Environment, NotReady, build_plugin, probe_until_ready
from envctl.faults.inject import FaultInjector, ServiceTarget
from envctl.faults.journal import Journal
from envctl.faults.mock import FaultyTool, MockFaultState
from envctl.faults.models import FaultSpec
from envctl.faults.proxies import LABEL_FAULT_PROXY, proxy_of
from envctl.faults.timeline import FaultTimeline
from envctl.runner.outcome import StepFailed
from envctl.runtime.base import LABEL_ENDPOINTS, LABEL_RUN_ID, LABEL_SERVICE, LABEL_TYPE
from envctl.scenario.models import Scenario
from envctl.scenario.spec import DependencyMode
from envctl.settings import Settings

_SERVICE_LABELS = (LABEL_SERVICE, LABEL_TYPE, LABEL_ENDPOINTS, LABEL_FAULT_PROXY)


def has_faults(scenario: Scenario, steps: Sequence[Any]) -> bool:
    return bool(scenario.faults) or any(getattr(s, "kind", "") == "fault" for s in steps)


def environment_targets(env: Environment | None, names: Sequence[str]) -> dict[str, ServiceTarget]:
    """Fault targets of an environment's docker services (containers, network, proxies)."""
    targets: dict[str, ServiceTarget] = {}
    if env is None:
        return targets
    labels_of: dict[str, Mapping[str, str]] = {}
    if env.runtime is not None:
        for resource in env.runtime.list_managed({LABEL_RUN_ID: env.run_id}):
            if resource.kind == "container" and resource.service:
                labels_of[resource.service] = resource.labels
    for name in names:
        state = env.services.get(name)
        if state is None:
            continue
        labels = labels_of.get(name, {})
        targets[name] = ServiceTarget(
            service=name,
            native=state.runtime == "native",
            container=state.container,
            network=env.network,
            aliases=[name],
            proxy=proxy_of(labels),
            labels={k: v for k, v in labels.items() if k not in _SERVICE_LABELS},
        )
    return targets


class RunFaults:
    """The faults of one run of a scenario."""

    def __init__(
        self,
        scenario: Scenario,
        faults: Sequence[FaultSpec],
        env: Environment | None,
        modes: Mapping[str, DependencyMode],
        run_dir: Path,
        run_id: str,
        event: Callable[..., object],
        settings: Settings,
    ) -> None:
        self.scenario = scenario
        self.env = env
        self.settings = settings
        self.run_id = run_id
        real = [n for n, m in modes.items() if m == DependencyMode.REAL]
        targets = environment_targets(env, real)
        self.mocks = {
            name: MockFaultState(name) for name, m in modes.items() if m == DependencyMode.MOCK
        }
        for name, state in self.mocks.items():
            targets[name] = ServiceTarget(service=name, mock=state)
        runtime = env.runtime if env is not None else None
        self.injector = FaultInjector(runtime, targets, Journal(run_dir, run_id), event)
        self.timeline = FaultTimeline(faults, self.injector)

    def wrap_tools(self, tools: Mapping[str, Any]) -> dict[str, Any]:
        """Mock services' tools pass through their simulated faults."""
        return {
            name: FaultyTool(tool, self.mocks[name]) if name in self.mocks else tool
            for name, tool in tools.items()
        }

    def fault_step(self, fault: FaultSpec, label: str) -> dict[str, Any]:
        key = self.timeline.fault_step(fault, label)
        return {"fault": key}

    def recover(self, service: str, within: float) -> dict[str, Any]:
        """Wait until ``service`` answers again; StepFailed when it does not in time."""
        if service in self.mocks:
            if not self.mocks[service].wait_available(within):
                fault = self.mocks[service].unavailable()
                raise StepFailed(
                    f"service '{service}' to recover within {within:g}s",
                    f"still unavailable ({fault.label if fault else '?'}, simulated)",
                )
            return {"service": service, "simulated": True}
        if self.env is None or service not in self.env.services:
            raise StepFailed(f"service '{service}' to recover", "it is not part of this run")
        handle = self.env.services[service].handle
        if handle is None:
            raise StepFailed(f"service '{service}' to recover", "it never started")
        plugin = build_plugin(self.scenario, service, self.run_id, self.settings)
        try:
            took = probe_until_ready(plugin, handle, within)
        except NotReady as exc:
            raise StepFailed(
                f"service '{service}' to answer its readiness probe within {within:g}s",
                f"no answer after {exc.waited:.1f}s: {exc.reason}",
            ) from None
        return {"service": service, "probe_seconds": round(took, 4)}
