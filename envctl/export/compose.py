"""``envctl compose export``: a scenario as a compose file.

Each docker-mode service becomes a compose service with the image envctl would run, the
environment its plugin sets (Kafka's listeners advertise the published host port), its
ports on ``127.0.0.1`` (fixed: a pinned port, else the container port), its command and
bind mounts, a ``healthcheck`` derived from its readiness probe (see
:mod:`envctl.export.health`) and ``depends_on`` with ``condition: service_healthy`` mirroring
the scenario's graph — so ``docker compose up --wait`` starts services in the same order
envctl would and returns when all are healthy. envctl's labels mark every container, so
``envctl status`` lists them and ``envctl down --run-id <project>`` removes them.

What compose cannot do that envctl does — create topics and databases, seed data, probe
with the real protocol from the host, choose free ports — is not in the file.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envctl.export.health import HealthCheck
from envctl.export.standalone import StandaloneService, standalone_services
from envctl.export.yamltext import render_yaml
from envctl.runtime.base import (
    LABEL_ENDPOINTS,
    LABEL_MANAGED,
    LABEL_RUN_ID,
    LABEL_SCENARIO,
    LABEL_SERVICE,
    LABEL_TYPE,
)
from envctl.scenario.models import Scenario
from envctl.scenario.spec import ServiceMode
from envctl.settings import Settings
from envctl.variables import dotted_fields


@dataclass
class ComposeExport:
    data: dict[str, Any]
    services: dict[str, StandaloneService]
    notes: list[str] = field(default_factory=list)
    """What the file leaves out (external services, probes without a health check)."""


START_INTERVAL_ENGINE = 25
"""The first Docker Engine major version on which compose accepts ``start_interval``
(older ones: "can't set healthcheck.start_interval as feature require Docker Engine v25
or later" when the containers are created — ``docker compose config`` does not notice)."""


@dataclass(frozen=True)
class StartIntervalChoice:
    """Whether the healthchecks carry ``start_interval``, and why."""

    include: bool
    why: str

    def comment(self) -> str:
        """The line the compose file's header says it in."""
        form = "included" if self.include else "left out"
        return f"healthcheck start_interval: {form} — {self.why}"


def choose_start_interval(
    requested: bool | None, engine_version: Callable[[], str | None]
) -> StartIntervalChoice:
    """``start_interval`` as asked (``--start-interval``/``--no-start-interval``), else as
    the engine allows: ``engine_version()`` is the Docker Engine's version, None when no
    daemon answers — then the portable form (no ``start_interval``), which every engine
    accepts."""
    if requested is True:
        return StartIntervalChoice(
            True, f"--start-interval (needs Docker Engine {START_INTERVAL_ENGINE} or later)"
        )
    if requested is False:
        return StartIntervalChoice(False, "--no-start-interval (any Docker Engine)")
    version = engine_version()
    if version is None:
        return StartIntervalChoice(
            False,
            "no Docker daemon answered, so the form every engine accepts "
            f"(--start-interval adds it for Docker Engine {START_INTERVAL_ENGINE} or later)",
        )
    found = re.match(r"(\d+)\.(\d+)", version)
    if found is None:
        return StartIntervalChoice(
            False,
            f"Docker Engine version {version!r} not understood, so the form every engine "
            "accepts (--start-interval adds it)",
        )
    major, minor = int(found.group(1)), int(found.group(2))
    if major >= START_INTERVAL_ENGINE:
        return StartIntervalChoice(
            True,
            f"Docker Engine {major}.{minor} answered, and {START_INTERVAL_ENGINE} or later "
            "accepts it (--no-start-interval for older engines)",
        )
    return StartIntervalChoice(
        False,
        f"Docker Engine {major}.{minor} answered, and compose refuses it before "
        f"{START_INTERVAL_ENGINE} (--start-interval adds it for newer engines)",
    )


def project_name(scenario: str) -> str:
    """A compose project name for a scenario: lower-case letters, digits, '-' and '_'."""
    safe = re.sub(r"[^a-z0-9_-]+", "-", scenario.lower()).strip("-_")
    return f"envctl-{safe or 'scenario'}"


def compose_project(
    scenario: Scenario,
    settings: Settings | None = None,
    *,
    start_interval: bool = True,
    base_dir: Path | None = None,
) -> ComposeExport:
    """The compose file of ``scenario``.

    ``start_interval: false`` leaves out the healthchecks' ``start_interval``, which
    compose refuses on Docker Engine older than 25. ``base_dir`` is where the file will
    be: bind mounts are written relative to it (absolute when None).
    """
    name = project_name(scenario.name)
    described = standalone_services(scenario, settings)
    notes: list[str] = []
    for other, spec in scenario.external_services.items():
        if spec.mode != ServiceMode.DOCKER:
            notes.append(
                f"service '{other}' is mode {spec.mode.value}: it runs elsewhere and is "
                "not in the compose file"
            )
    services: dict[str, Any] = {}
    for service in described.values():
        services[service.name] = _service(
            service, name, scenario.name, described, start_interval, base_dir
        )
        if not isinstance(service.health, HealthCheck):
            notes.append(
                f"service '{service.name}' has no healthcheck ({service.health.reason}); "
                "its dependents wait only until it has started"
            )
    return ComposeExport({"name": name, "services": services}, described, notes)


def _service(
    service: StandaloneService,
    project: str,
    scenario: str,
    described: dict[str, StandaloneService],
    start_interval: bool,
    base_dir: Path | None,
) -> dict[str, Any]:
    entry: dict[str, Any] = {"image": service.image}
    if service.command is not None:
        entry["command"] = list(service.command)
    if service.env:
        entry["environment"] = dict(service.env)
    if service.ports:
        entry["ports"] = [p.compose() for p in service.ports]
    if service.mounts:
        entry["volumes"] = [_volume(m.source, m.target, m.path, base_dir) for m in service.mounts]
    if isinstance(service.health, HealthCheck):
        entry["healthcheck"] = service.health.compose(start_interval=start_interval)
    depends = {
        dep: {
            "condition": "service_healthy"
            if isinstance(described[dep].health, HealthCheck)
            else "service_started"
        }
        for dep in service.depends_on
        if dep in described
    }
    if depends:
        entry["depends_on"] = depends
    entry["labels"] = {
        LABEL_MANAGED: "true",
        LABEL_RUN_ID: project,
        LABEL_SCENARIO: scenario,
        LABEL_SERVICE: service.name,
        LABEL_TYPE: service.type,
        LABEL_ENDPOINTS: json.dumps(service.endpoints, sort_keys=True),
    }
    return _literal_dollars(entry)


def _literal_dollars(value: Any) -> Any:
    """Compose interpolates ``$VAR`` in every value; ``$$`` is a literal ``$``.

    The scenario's values are final (envctl resolved its own ``${VARS}`` when loading), so
    a ``$`` left in them — a shell variable in a command — must reach the container as is.
    """
    if isinstance(value, str):
        return value.replace("$", "$$")
    if isinstance(value, dict):
        return {k: _literal_dollars(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_literal_dollars(v) for v in value]
    return value


def _volume(source: str, target: str, path: Path | None, base_dir: Path | None) -> str:
    if path is None:
        return f"{source}:{target}"
    if base_dir is None:
        return f"{path}:{target}"
    relative = os.path.relpath(path, base_dir.resolve())
    if not relative.startswith((".", "/")):
        relative = f"./{relative}"
    return f"{relative}:{target}"


def render_compose(
    export: ComposeExport, command: str = "", start_interval: StartIntervalChoice | None = None
) -> str:
    """The compose file's text, with how it was made and how to reach each service;
    ``start_interval``: the choice :func:`compose_project` was given, said in one line."""
    made_by = f"`{command}`" if command else "envctl compose export"
    lines = [f"Generated by {made_by}; regenerate it instead of editing it by hand."]
    lines.append("Start: docker compose -f FILE up -d --wait   Stop: docker compose -f FILE down")
    if start_interval is not None:
        lines.append(start_interval.comment())
    for service in export.services.values():
        if service.ports:
            reach = " ".join(f"{k}={v}" for k, v in dotted_fields(service.endpoints))
            lines.append(f"{service.name}: {reach}")
    lines.extend(f"note: {n}" for n in export.notes)
    return render_yaml(export.data, "\n".join(lines))
