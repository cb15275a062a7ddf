"""Shared instances in a run-all: scenarios that need identical real services share them.

Scenarios are grouped by a hash of the specs of their real-mode services (only what shapes
the containers: type, image, env, ports, topics, ...; not ``required``, ``cleanup_after`` or
``snapshot``). A group of two or more is brought up once; its scenarios then run one after
another against it (or side by side, below), each with its own run id and audit log, and
after each the state it left is removed, so no scenario sees another's data.

Where the run's namespace separates scenarios on one instance (Kafka topics and groups by
name, Redis keys by prefix), each scenario gets its own namespace on the shared instance:
its declared topics are created there, it runs at the same time as the others of its
group (up to ``--parallel``), and its namespace is emptied afterwards. PostgreSQL (one
database per run) and application containers are shared one scenario at a time, with a
reset in between.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from envctl.runner.modes import ModeDecision, real_part
from envctl.scenario.models import Scenario
from envctl.scenario.spec import DependencyMode, ServiceMode
from envctl.services.registry import plugin_for

NOT_SHAPING = {"required", "cleanup_after", "snapshot", "fallback", "dependency_mode"}
"""Service fields that do not change the container, so do not prevent sharing."""


def share_key(scenario: Scenario, modes: ModeDecision) -> str | None:
    """The hash of the scenario's real-mode services, or None when it starts no container
    or injects faults (a fault would hit every scenario sharing the instance)."""
    if scenario.faults or any("fault" in step for step in scenario.steps):
        return None
    real = {
        name: scenario.external_services[name]
        for name in modes.real_services()
        if name in scenario.external_services
    }
    if not any(spec.mode == ServiceMode.DOCKER for spec in real.values()):
        return None
    shape = {
        name: spec.model_dump(mode="json", exclude=NOT_SHAPING, by_alias=True)
        for name, spec in sorted(real.items())
    }
    profiles = {name: scenario.timeouts_for(name).model_dump(mode="json") for name in sorted(real)}
    text = json.dumps({"services": shape, "timeouts": profiles}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def group_scenario(scenario: Scenario, modes: ModeDecision, key: str) -> Scenario:
    """The scenario a group's instance is brought up from: only the real services."""
    part = real_part(scenario, modes.real_services())
    copy = part.model_copy(update={"name": f"shared-{key[:8]}", "steps": [], "expected": {}})
    copy._source = scenario.source
    return copy


def isolatable(scenario: Scenario, modes: ModeDecision) -> bool:
    """Whether every real service's type keeps scenarios apart by namespace on one instance
    (``ServicePlugin.shares_by_namespace``: Kafka topics and groups by name, Redis keys by
    prefix). PostgreSQL (one database per run) and application containers (which do not
    know the namespace) are shared one scenario at a time."""
    return all(
        plugin_for(scenario.external_services[name].type).shares_by_namespace
        for name in modes.real_services()
    )


def prepare_namespace(
    scenario: Scenario, tools: Mapping[str, Any], modes: Mapping[str, DependencyMode]
) -> None:
    """Create the scenario's declared topics in its own namespace on a shared instance."""
    for name, spec in scenario.external_services.items():
        if modes.get(name) != DependencyMode.REAL or name not in tools:
            continue
        plugin_for(spec.type).prepare_shared(spec, tools[name])


def reset_after_run(
    scenario: Scenario,
    tools: Mapping[str, Any],
    modes: Mapping[str, DependencyMode],
    isolated: bool = False,
) -> list[str]:
    """Remove what a scenario left in a shared instance; returns the errors.

    Isolated: its namespace's topics, groups and keys. Otherwise: everything of the
    instance, and the declared topics are created again for the next scenario.
    """
    errors: list[str] = []
    for name, spec in scenario.external_services.items():
        if modes.get(name) != DependencyMode.REAL or name not in tools:
            continue
        try:
            plugin_for(spec.type).reset_shared(spec, tools[name], isolated)
        except Exception as exc:  # noqa: BLE001 - reported; the next scenario may then fail
            errors.append(f"{name}: {exc}")
    return errors
