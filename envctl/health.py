"""Pre-flight checks: can each service of a scenario be had, and how quickly does it answer?

Docker-mode services: the daemon answers and the image is present (or pullable); when an
environment of the scenario is running, its service is probed too. External and cloud
services: their own readiness probe against their address. Nothing is started.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from envctl.engine import NotReady, fault_targets, probe_until_ready
from envctl.environment import build_plugin, resolve_image
from envctl.errors import EnvctlError
from envctl.runtime.base import LABEL_ENDPOINTS, LABEL_SCENARIO, LABEL_SERVICE, Runtime
from envctl.runtime.choice import RuntimeChoice, choose_runtime, requested_runtime
from envctl.scenario.models import Scenario
from envctl.scenario.spec import ServiceMode
from envctl.services.base import ServiceHandle
from envctl.services.native import native_context
from envctl.settings import IMAGE_ENV_PREFIX, Settings

PREFLIGHT_PROBE_LIMIT = 5.0
"""Seconds a pre-flight probe may retry (less when the service's health_check is shorter)."""


@dataclass
class HealthResult:
    service: str
    type: str
    mode: str
    required: bool
    available: bool
    check: str
    latency_ms: float | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_health(
    scenario: Scenario, settings: Settings, runtime_factory: Callable[[], Runtime]
) -> list[HealthResult]:
    results: list[HealthResult] = []
    runtime = _LazyRuntime(runtime_factory)
    for name, spec in scenario.external_services.items():
        plugin = build_plugin(scenario, name, "health", settings)
        base: dict[str, Any] = {
            "service": name,
            "type": spec.type,
            "mode": spec.mode.value,
            "required": spec.required,
        }
        limit = min(PREFLIGHT_PROBE_LIMIT, plugin.context.timeouts.health_check)
        if spec.mode != ServiceMode.DOCKER:
            results.append(_check_external(base, plugin, settings, limit))
        else:
            results.append(_check_docker(base, scenario, name, plugin, runtime, settings, limit))
    return results


class _LazyRuntime:
    """The runtime, connected on first need (only docker-mode services need it), once."""

    def __init__(self, factory: Callable[[], Runtime]) -> None:
        self._factory = factory
        self.runtime: Runtime | None = None
        self.error: str | None = None

    def get(self) -> Runtime | None:
        if self.runtime is None and self.error is None:
            try:
                self.runtime = self._factory()
            except EnvctlError as exc:
                self.error = str(exc)
        return self.runtime


def _check_external(
    base: dict[str, Any], plugin: Any, settings: Settings, limit: float
) -> HealthResult:
    """An external or cloud service: its address resolves and its readiness probe answers."""
    try:
        handle = plugin.attach(settings.environ)
    except EnvctlError as exc:
        return HealthResult(**base, available=False, check="address", error=str(exc))
    public = ", ".join(f"{k}={v}" for k, v in handle.endpoints.items() if not k.startswith("_"))
    return _probe(base, plugin, handle, limit, f"readiness probe ({public})")


def _check_docker(
    base: dict[str, Any],
    scenario: Scenario,
    name: str,
    plugin: Any,
    lazy: _LazyRuntime,
    settings: Settings,
    limit: float,
) -> HealthResult:
    """A service envctl starts: its runtime can be had (Docker with the image, or the native
    server — as ``auto`` would choose); when a run of the scenario has its container up, its
    readiness probe answers."""
    try:
        choice = _choose(scenario, name, plugin, lazy, settings)
    except EnvctlError as exc:
        return HealthResult(**base, available=False, check="runtime", error=str(exc))
    if choice.runtime == "native":
        check = choice.note or f"native: {choice.server}"
        return HealthResult(**base, available=True, check=check)
    runtime = lazy.get()
    if runtime is None:
        return HealthResult(**base, available=False, check="docker daemon", error=lazy.error)
    spec = scenario.external_services[name]
    image, _source = resolve_image(spec, plugin.default_image, settings)
    present, how = runtime.image_status(image)
    if not present:
        return HealthResult(
            **base,
            available=False,
            check=f"docker: {image}",
            error=f"{how}; set {IMAGE_ENV_PREFIX}{spec.type.upper()} to an image you have",
        )
    running = [
        r
        for r in runtime.list_managed({LABEL_SCENARIO: scenario.name, LABEL_SERVICE: name})
        if r.kind == "container" and r.status == "running"
    ]
    if not running:
        return HealthResult(**base, available=True, check=f"docker daemon, {how} ({image})")
    endpoints = json.loads(running[0].labels.get(LABEL_ENDPOINTS, "{}"))
    return _probe(
        base,
        plugin,
        ServiceHandle(name, endpoints),
        limit,
        f"readiness probe of running run {running[0].run_id}",
    )


def _choose(
    scenario: Scenario, name: str, plugin: Any, lazy: _LazyRuntime, settings: Settings
) -> RuntimeChoice:
    """Docker or native for this service, decided as ``up`` would (nothing is started)."""
    spec = scenario.external_services[name]
    requested, source = requested_runtime(
        settings.runtime, settings.runtime_source, spec.runtime, scenario.runtime
    )
    provider = plugin.native(native_context(settings, spec.type))

    def docker() -> tuple[bool, str]:
        return lazy.get() is not None, lazy.error or ""

    def image_status(image: str) -> tuple[bool, str]:
        runtime = lazy.get()
        return runtime.image_status(image) if runtime is not None else (False, "no Docker")

    choice: RuntimeChoice = choose_runtime(
        name,
        spec.type,
        requested,
        source,
        plugin.context.image,
        f"{IMAGE_ENV_PREFIX}{spec.type.upper()}",
        docker,
        image_status,
        provider.locate if provider is not None else None,
        container_only="faults are done to containers" if name in fault_targets(scenario) else "",
    )
    return choice


def _probe(
    base: dict[str, Any], plugin: Any, handle: ServiceHandle, limit: float, check: str
) -> HealthResult:
    try:
        took = probe_until_ready(plugin, handle, limit)
    except NotReady as exc:
        return HealthResult(
            **base, available=False, check=check, error=f"{exc.reason} (for {exc.waited:.1f}s)"
        )
    return HealthResult(**base, available=True, check=check, latency_ms=round(took * 1000, 1))
