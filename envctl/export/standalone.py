"""A scenario's docker-mode services as containers that another tool starts.

GitHub job services and ``docker compose`` both start containers from a static
description: an image, an environment, *fixed* host ports, maybe a command, and a health
check. This module turns each docker-mode service of a scenario into that description,
with the same plugin hooks the engine uses (``ports()``, ``container_env()``,
``container_command()``), so a Kafka broker advertises the host port it is published on.

Host ports are fixed because the containers' own configuration depends on them (Kafka's
advertised listener): a port the scenario pins, else the container port itself, else the
next free number above it when two services want the same one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envctl.environment import resolve_image
from envctl.export.health import HealthCheck, NoHealthCheck, health_check
from envctl.namespace import Namespace
from envctl.scenario.models import Scenario
from envctl.scenario.spec import (
    NamingTemplates,
    ServiceMode,
    ServiceSpecBase,
    service_variable,
)
from envctl.scenario.timeouts import resolve_timeouts
from envctl.services.base import ServiceContext, ServicePlugin
from envctl.services.registry import plugin_for
from envctl.settings import Settings

CONTEXT_RUN_ID = "standalone"
"""The run id plugins see here (names do not use it: see :data:`AS_WRITTEN`)."""
AS_WRITTEN = Namespace(
    CONTEXT_RUN_ID,
    "standalone",
    NamingTemplates(topic="{name}", group="{name}", database="{name}", key_prefix=""),
)
"""Names as the scenario writes them: a container started by another tool is nobody's run,
so its database is ``orders``, not ``envctl_<run>_orders``. envctl attaching to it in
external mode still creates its own run's names inside."""


@dataclass(frozen=True)
class FixedPort:
    host: int
    container: int
    protocol: str = "tcp"

    def compose(self) -> str:
        suffix = "" if self.protocol == "tcp" else f"/{self.protocol}"
        return f"127.0.0.1:{self.host}:{self.container}{suffix}"


@dataclass(frozen=True)
class Mount:
    """A bind mount: ``source`` as written in the scenario, ``path`` resolved."""

    source: str
    target: str
    path: Path | None
    """Absolute host path, when the scenario's folder is known."""


@dataclass
class StandaloneService:
    """One docker-mode service, described for a tool that is not envctl."""

    name: str
    type: str
    image: str
    env: dict[str, str]
    ports: list[FixedPort]
    command: list[str] | None
    mounts: list[Mount]
    depends_on: list[str]
    health: HealthCheck | NoHealthCheck
    endpoints: dict[str, Any]
    """How clients on the host reach it (what ``envctl up --json`` would print)."""
    external_url: str | None
    """The address for ``ENVCTL_<SERVICE>_URL`` when envctl attaches to it in external mode;
    None when the service has no address of that kind (no published port)."""
    limits: list[str] = field(default_factory=list)
    """Why it cannot be a GitHub job service (empty: it can)."""

    @property
    def env_var(self) -> str:
        return service_variable(self.name, "URL")


def standalone_services(
    scenario: Scenario, settings: Settings | None, used_ports: set[int] | None = None
) -> dict[str, StandaloneService]:
    """Every docker-mode service of ``scenario``, in the scenario's order.

    ``used_ports`` collects the host ports taken so far (pass one set to several calls
    to keep their ports apart).
    """
    taken = used_ports if used_ports is not None else set()
    result: dict[str, StandaloneService] = {}
    for name, spec in scenario.external_services.items():
        if spec.mode != ServiceMode.DOCKER:
            continue
        result[name] = _describe(scenario, name, spec, settings, taken)
    return result


def _describe(
    scenario: Scenario,
    name: str,
    spec: ServiceSpecBase,
    settings: Settings | None,
    taken: set[int],
) -> StandaloneService:
    plugin_cls = plugin_for(spec.type)
    image, _why = resolve_image(spec, plugin_cls.default_image, settings)
    timeouts = resolve_timeouts(scenario, name, plugin_cls.default_timeouts, settings)
    context = ServiceContext(
        run_id=CONTEXT_RUN_ID,
        scenario=scenario.name,
        service=name,
        network_alias=name,
        timeouts=timeouts,
        image=image,
        scenario_dir=scenario.source.parent if scenario.source is not None else None,
        namespace=AS_WRITTEN,
    )
    plugin: ServicePlugin[Any] = plugin_cls(spec, context)

    ports: list[FixedPort] = []
    for port in plugin.ports():
        host = port.host if port.host is not None else port.container
        while port.host is None and host in taken:
            host += 1
        taken.add(host)
        ports.append(FixedPort(host, port.container, port.protocol))
    host_ports = {p.container: p.host for p in ports}
    env = {**plugin.container_env(host_ports), **spec.env}
    endpoints = plugin.endpoints(host_ports)
    command = plugin.container_command()

    source_dir = scenario.source.parent if scenario.source is not None else None
    mounts: list[Mount] = []
    for volume in getattr(spec, "volumes", []):
        path = Path(volume.source).expanduser()
        resolved: Path | None = path
        if not path.is_absolute():
            resolved = (source_dir / path).resolve() if source_dir is not None else None
        mounts.append(Mount(volume.source, volume.target, resolved))

    service = StandaloneService(
        name=name,
        type=spec.type,
        image=image,
        env={k: str(v) for k, v in env.items()},
        ports=ports,
        command=list(command) if command is not None else None,
        mounts=mounts,
        depends_on=list(spec.depends_on),
        health=health_check(spec, image, timeouts),
        endpoints=endpoints,
        external_url=_external_url(spec, endpoints, ports),
    )
    service.limits = _job_service_limits(spec, service)
    return service


def _external_url(
    spec: ServiceSpecBase, endpoints: dict[str, Any], ports: list[FixedPort]
) -> str | None:
    """What to put in ``ENVCTL_<SERVICE>_URL`` for the plugin's ``external_endpoints``."""
    published = [(p.container, p.host, p.protocol) for p in ports]
    return plugin_for(spec.type).external_url(spec, endpoints, published)


def _job_service_limits(spec: ServiceSpecBase, service: StandaloneService) -> list[str]:
    limits: list[str] = []
    if service.depends_on:
        limits.append(
            f"depends on {', '.join(service.depends_on)} (job services all start at once)"
        )
    if service.command is not None:
        limits.append("sets a command (job services cannot)")
    if service.mounts:
        limits.append("mounts host paths (the checkout is not there when job services start)")
    probe = getattr(spec, "probe", None)
    if probe is not None and (probe.exec is not None or probe.log is not None):
        limits.append(
            f"its {probe.kinds()[0]} probe needs a container of envctl's "
            "(in external mode only tcp and http probes work)"
        )
    if service.external_url is None:
        limits.append("publishes no TCP port, so it has no address for external mode")
    return limits
