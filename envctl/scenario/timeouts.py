"""Timeouts, in one place: the phases, the per-service defaults a service type declares, the
scenario's ``timeout_profiles`` over them, and the settings' ``timeout_scale``.

The effective timeouts of a service: each phase from ``timeout_profiles.<service name>``,
else ``timeout_profiles.<service type>``, else the service type's default; then multiplied by
``ENVCTL_TIMEOUT_SCALE`` (the settings' ``timeout_scale``). Profiles that scale timeouts
(:mod:`envctl.profiles`) rewrite ``timeout_profiles`` before validation with the same lookup
(:func:`profile_entry`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, TypeVar

from envctl.durations import parse_duration

if TYPE_CHECKING:
    from envctl.scenario.models import Scenario
    from envctl.scenario.spec import TimeoutProfile
    from envctl.settings import Settings

T = TypeVar("T")


@dataclass(frozen=True)
class PhaseTimeouts:
    """Seconds allowed per phase; the service type's defaults, a scenario may override."""

    startup: float = 60.0
    health_check: float = 60.0
    setup: float = 30.0
    seed: float = 60.0
    publish_ack: float = 10.0

    def scaled(self, factor: float) -> PhaseTimeouts:
        return PhaseTimeouts(**{name: getattr(self, name) * factor for name in PHASES})


PHASES: tuple[str, ...] = tuple(f.name for f in fields(PhaseTimeouts))
"""The phases a timeout can be set for: ``startup``, ``health_check``, ``setup``, ..."""


def profile_entry(profiles: Mapping[str, T], service: str, service_type: str) -> T | None:
    """The ``timeout_profiles`` entry that applies to a service: by its name, else by its
    type, else None."""
    if service in profiles:
        return profiles[service]
    return profiles.get(service_type)


def merged(defaults: PhaseTimeouts, profile: TimeoutProfile | None) -> PhaseTimeouts:
    """``defaults`` with the phases ``profile`` sets."""
    if profile is None:
        return defaults
    return PhaseTimeouts(
        **{
            name: getattr(defaults, name)
            if getattr(profile, name, None) is None
            else getattr(profile, name)
            for name in PHASES
        }
    )


def resolve_timeouts(
    scenario: Scenario, service: str, defaults: PhaseTimeouts, settings: Settings | None
) -> PhaseTimeouts:
    """The effective timeouts of ``service``: its type's ``defaults``, the scenario's
    ``timeout_profiles`` over them, scaled by the settings (when given)."""
    timeouts = merged(defaults, scenario.timeouts_for(service))
    return timeouts.scaled(settings.timeout_scale) if settings is not None else timeouts


def parse_ttl(value: Any, where: str) -> float:
    """A warm instance's TTL: ``600``, ``90s``, ``10m``, ``2h`` (:mod:`envctl.durations`) in
    seconds, more than 0."""
    return parse_duration(value, where=where, positive=True)
