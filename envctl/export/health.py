"""A service's readiness probe, said as a container health check.

envctl itself waits with a real protocol probe from the host (a Kafka metadata request,
``SELECT 1``, ``PING``). When another tool starts the container — GitHub job services,
``docker compose`` — readiness has to be a command that runs *inside* the container. This
module asks each service type's plugin for the command closest to envctl's probe
(:meth:`~envctl.services.base.ServicePlugin.container_health_check`):

- kafka (apache): ``kafka-broker-api-versions.sh`` against the internal listener;
- kafka (tansu): ``/tansu topic list`` (the image has no shell, so exec form only);
- postgres: ``pg_isready`` over TCP to the scenario's database as its user (the image's
  temporary init server listens on the unix socket only, so TCP answers only once the
  real server runs — the same reason envctl's probe uses TCP);
- redis: ``redis-cli ping`` must answer ``PONG`` (a loading server answers an error);
- generic: the scenario's ``probe`` — exec as is, http/tcp through curl/wget/nc/bash
  inside the image; a log probe has no health-check form.

The timings follow the service's ``health_check`` timeout: that long is the start period
(failures do not count while the service boots), checked every second meanwhile
(``start_interval``), then every ``interval``.
"""

from __future__ import annotations

from envctl.scenario.spec import ServiceSpecBase
from envctl.services.base import PhaseTimeouts
from envctl.services.healthcheck import (
    ACTIONS_INTERVAL,
    RETRIES,
    START_INTERVAL,
    STEADY_INTERVAL,
    HealthCheck,
    NoHealthCheck,
    duration,
)
from envctl.services.registry import plugin_for

__all__ = [
    "ACTIONS_INTERVAL",
    "RETRIES",
    "START_INTERVAL",
    "STEADY_INTERVAL",
    "HealthCheck",
    "NoHealthCheck",
    "duration",
    "health_check",
]


def health_check(
    spec: ServiceSpecBase, image: str, timeouts: PhaseTimeouts
) -> HealthCheck | NoHealthCheck:
    """The health check closest to the readiness probe envctl uses for this service."""
    return plugin_for(spec.type).container_health_check(spec, image, timeouts.health_check)
