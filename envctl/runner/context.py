"""What a running scenario offers its steps, and ``call`` functions: tools, endpoints, ids.

A ``call`` step's function receives this object::

    def check_order(ctx, order_id=1):
        bus = ctx.tool("kafka")            # EventBus (KafkaEventBus or InMemoryEventBus)
        ctx.log.info("run %s at %s", ctx.run_id, ctx.endpoints["kafka"])
        return {"seen": True}              # becomes ${steps.<id>.seen}

``async def`` functions get the same object; use ``ctx.tool(name).aio`` there.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from envctl.errors import EnvctlError
from envctl.namespace import shown
from envctl.scenario.models import Scenario
from envctl.variables import substitute


class ServiceUnavailable(EnvctlError):
    """A step needs something of a service that this run does not have (a container)."""


@dataclass
class RunContext:
    """Tools, endpoints and outputs of one run of one scenario."""

    run_id: str
    scenario: Scenario
    tools: Mapping[str, Any]
    """Service name -> tool (EventBus, KeyValueStore, SqlStore), real or mock."""
    endpoints: Mapping[str, Mapping[str, Any]]
    """Service name -> connection fields (empty for services running as mocks)."""
    modes: Mapping[str, str]
    """Service name -> ``real`` or ``mock``."""
    mock_namespace: str = ""
    """What scopes the shared state of this run's in-memory doubles (the run id;
    ``${run.namespace}``). Physical names on real services are :attr:`names`."""
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("envctl.run"))
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Outputs of earlier steps that have an ``id``."""
    containers: Mapping[str, Any] = field(default_factory=dict)
    """Service name -> container handle (real docker services only)."""
    import_paths: list[str] = field(default_factory=list)
    faults: Any = None
    """The run's :class:`~envctl.runner.faulting.RunFaults` (None: no faults declared)."""
    published: list[dict[str, Any]] = field(default_factory=list)
    """Every message ``publish`` steps published (service, topic, partition, offset, ...)."""
    names: Any = None
    """The run's :class:`~envctl.namespace.Namespace` on real services (physical names), or
    None; the tools already translate, this is for code talking to services directly."""

    def tool(self, service: str) -> Any:
        if service not in self.tools:
            have = ", ".join(sorted(self.tools)) or "none"
            raise ServiceUnavailable(f"service '{service}' has no tool in this run (tools: {have})")
        return self.tools[service]

    def shown_topic(self, service: str, topic: str) -> str:
        """A topic of ``service`` as messages name it: ``'orders'``, and on a real service
        ``'orders' (envctl.3f2a9c1d.orders)`` (:func:`envctl.namespace.shown`)."""
        names = self._names_of(service)
        return names.shown_topic(topic) if names is not None else shown(topic)

    def shown_key(self, service: str, key: str) -> str:
        """A key of ``service`` as messages name it (as :meth:`shown_topic`)."""
        names = self._names_of(service)
        return names.shown_key(key) if names is not None else shown(key)

    def _names_of(self, service: str) -> Any:
        return self.names if self.modes.get(service) == "real" else None

    def service_of(self, body: Any) -> str:
        """The service a step names (the plan fills in the default)."""
        name = getattr(body, "service", None)
        if not name:
            raise ServiceUnavailable("the step names no service")
        return str(name)

    def container(self, service: str) -> Any:
        if service not in self.containers:
            mode = self.modes.get(service, "?")
            raise ServiceUnavailable(
                f"service '{service}' has no container in this run (mode {mode}); "
                "exec steps need a docker service in real mode"
            )
        return self.containers[service]

    def variables(self) -> dict[str, Any]:
        """The scope of ``${run.*}``, ``${services.*}``, ``${steps.*}``."""
        return {
            "run": {
                "id": self.run_id,
                "scenario": self.scenario.name,
                "namespace": self.mock_namespace,
            },
            "services": {
                name: {**dict(self.endpoints.get(name, {})), "mode": self.modes.get(name, "")}
                for name in self.scenario.external_services
            },
            "steps": self.outputs,
            "namespace": {
                "key_prefix": self.names.key_prefix if self.names is not None else "",
                "topics": {
                    topic.name: (self.names.topic(topic.name) if self.names else topic.name)
                    for spec in self.scenario.external_services.values()
                    for topic in getattr(spec, "topics", [])
                },
            },
        }

    def resolve(self, value: Any) -> Any:
        return substitute(value, self.variables())
