"""Which dependency mode (real or mock) a scenario and each of its services run in, and why.

Precedence, highest first: ``--force-dependency-mode`` > ``ENVCTL_DEPENDENCY_MODE`` > the
service's own ``dependency_mode`` (mixed scenarios) > the scenario's ``dependency_mode``
> ``mock``. The decision and its source go to the audit log.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from envctl.errors import ConfigError
from envctl.scenario.models import Scenario
from envctl.scenario.spec import DependencyMode

MODE_ENV = "ENVCTL_DEPENDENCY_MODE"
VALID_MODES = tuple(m.value for m in DependencyMode)


@dataclass(frozen=True)
class ModeChoice:
    """The dependency mode (real or mock) chosen for one service, and where that came from.

    Not to be confused with :class:`~envctl.scenario.spec.ServiceMode` (docker, external,
    cloud: how envctl gets hold of a service)."""

    mode: DependencyMode
    source: str
    """e.g. ``--force-dependency-mode``, ``ENVCTL_DEPENDENCY_MODE``,
    ``external_services.kafka.dependency_mode``, ``dependency_mode``, ``default``."""


@dataclass(frozen=True)
class ModeDecision:
    """The scenario's mode and each service's; a scenario is ``mixed`` when they differ."""

    mode: DependencyMode
    source: str
    services: dict[str, ModeChoice] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """``real``, ``mock`` or ``mixed``."""
        modes = {s.mode for s in self.services.values()}
        return "mixed" if len(modes) > 1 else self.mode.value

    def real_services(self) -> list[str]:
        return [n for n, s in self.services.items() if s.mode == DependencyMode.REAL]

    def mock_services(self) -> list[str]:
        return [n for n, s in self.services.items() if s.mode == DependencyMode.MOCK]

    def to_dict(self) -> dict[str, object]:
        return {
            "mode": self.mode.value,
            "label": self.label,
            "source": self.source,
            "services": {
                n: {"mode": s.mode.value, "source": s.source} for n, s in self.services.items()
            },
        }


def parse_mode(value: str, where: str) -> DependencyMode:
    """A mode from user input; anything else is a config error naming the valid values."""
    text = value.strip().lower()
    try:
        return DependencyMode(text)
    except ValueError:
        raise ConfigError(
            f"{where}={value!r} is not a dependency mode; valid: {', '.join(VALID_MODES)}"
        ) from None


def resolve_modes(
    scenario: Scenario,
    *,
    force: str | DependencyMode | None = None,
    environ: Mapping[str, str] | None = None,
) -> ModeDecision:
    """Decide the mode of the scenario and of every service (pure: no I/O)."""
    env_value = (environ or {}).get(MODE_ENV, "").strip()
    if force is not None:
        forced = (
            force
            if isinstance(force, DependencyMode)
            else parse_mode(force, "--force-dependency-mode")
        )
        top = ModeChoice(forced, "--force-dependency-mode")
    elif env_value:
        top = ModeChoice(parse_mode(env_value, MODE_ENV), MODE_ENV)
    elif "dependency_mode" in scenario.model_fields_set:
        top = ModeChoice(scenario.dependency_mode, "dependency_mode")
    else:
        top = ModeChoice(DependencyMode.MOCK, "default")
    overriding = top.source in ("--force-dependency-mode", MODE_ENV)
    services: dict[str, ModeChoice] = {}
    for name, spec in scenario.external_services.items():
        if not overriding and spec.dependency_mode is not None:
            services[name] = ModeChoice(
                spec.dependency_mode, f"external_services.{name}.dependency_mode"
            )
        else:
            services[name] = top
    return ModeDecision(top.mode, top.source, services)


def real_part(scenario: Scenario, names: list[str]) -> Scenario:
    """The scenario with only ``names`` as services (dependencies on others dropped)."""
    keep = set(names)
    services = {
        name: spec.model_copy(update={"depends_on": [d for d in spec.depends_on if d in keep]})
        for name, spec in scenario.external_services.items()
        if name in keep
    }
    if len(services) == len(scenario.external_services):
        return scenario
    copy = scenario.model_copy(update={"external_services": services})
    copy._source = scenario.source
    return copy
