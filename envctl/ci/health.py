"""A service's readiness probe, said as a container health check.

envctl itself waits with a real protocol probe from the host (a Kafka metadata request,
``SELECT 1``, ``PING``). When another tool starts the container — GitHub job services,
``docker compose`` — readiness has to be a command that runs *inside* the container. This
module picks, per service type, the command closest to envctl's probe:

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

import math
import shlex
from dataclasses import dataclass
from typing import Any

from envctl.scenario.spec import ServiceSpecBase
from envctl.services import registry
from envctl.services.base import PhaseTimeouts

STEADY_INTERVAL = 10.0
"""Seconds between checks once the service is healthy (or the start period is over)."""
START_INTERVAL = 1.0
"""Seconds between checks during the start period (compose ``start_interval``)."""
ACTIONS_INTERVAL = 2.0
"""``--health-interval`` of GitHub job services: the runner waits for "healthy" and there
is no start interval on the command line, so the steady interval is kept short."""
RETRIES = 3


@dataclass(frozen=True)
class HealthCheck:
    """A container health check, independent of the tool that configures it."""

    test: tuple[str, ...]
    """Docker's form: ``("CMD", program, arg, ...)`` or ``("CMD-SHELL", "command line")``."""
    start_period: float
    timeout: float = 5.0
    interval: float = STEADY_INTERVAL
    start_interval: float = START_INTERVAL
    retries: int = RETRIES
    heavy: bool = False
    """The command is expensive (starts a JVM): checked less often on GitHub too."""
    shell: bool = True
    """The image has ``/bin/sh`` (GitHub's ``--health-cmd`` always runs through it)."""

    @property
    def command_line(self) -> str:
        """The test as one shell command line."""
        if self.test[0] == "CMD-SHELL":
            return self.test[1]
        return shlex.join(self.test[1:])

    def compose(self, *, start_interval: bool = True) -> dict[str, Any]:
        """The ``healthcheck:`` of a compose service.

        ``start_interval`` needs Docker Engine 25 or later (compose refuses it on older
        engines); without it the interval is short during and after the start period.
        """
        data: dict[str, Any] = {
            "test": list(self.test),
            "interval": duration(self.interval if start_interval else self._short_interval()),
            "timeout": duration(self.timeout),
            "retries": self.retries,
            "start_period": duration(self.start_period),
        }
        if start_interval:
            data["start_interval"] = duration(self.start_interval)
        return data

    def docker_options(self) -> str | None:
        """``docker create`` options for GitHub job services; None when the image has no shell."""
        if not self.shell:
            return None
        command = self.command_line
        if '"' in command or "\\" in command:  # pragma: no cover - our commands have none
            raise ValueError(f"health command {command!r} cannot be quoted for --health-cmd")
        return (
            f'--health-cmd "{command}" '
            f"--health-interval {duration(self._short_interval())} "
            f"--health-timeout {duration(self.timeout)} "
            f"--health-retries {self.retries} "
            f"--health-start-period {duration(self.start_period)}"
        )

    def docker_sdk(self) -> dict[str, Any]:
        """The ``healthcheck`` argument of the docker SDK's ``containers.run`` (nanoseconds)."""
        ns = 1_000_000_000
        return {
            "test": list(self.test),
            "interval": int(self._short_interval() * ns),
            "timeout": int(self.timeout * ns),
            "retries": self.retries,
            "start_period": int(self.start_period * ns),
        }

    def _short_interval(self) -> float:
        return self.interval if self.heavy else ACTIONS_INTERVAL


def duration(seconds: float) -> str:
    """Seconds as a Docker/compose duration: ``90s``, ``1m30s`` stays ``90s``, ``500ms``."""
    if seconds < 1:
        return f"{max(1, round(seconds * 1000))}ms"
    return f"{math.ceil(seconds)}s"


@dataclass(frozen=True)
class NoHealthCheck:
    """Why a service has no health check (it is then only "started", not "healthy")."""

    reason: str


def health_check(
    spec: ServiceSpecBase, image: str, timeouts: PhaseTimeouts
) -> HealthCheck | NoHealthCheck:
    """The health check closest to the readiness probe envctl uses for this service."""
    start = timeouts.health_check
    kind = spec.type
    if kind == "kafka":
        from envctl.services.kafka.plugin import INTERNAL_PORT, KAFKA_PORT, KafkaSpec, flavor_of

        assert isinstance(spec, KafkaSpec)
        if flavor_of(spec, image) == "tansu":
            return HealthCheck(
                ("CMD", "/tansu", "topic", "list", "--broker", f"tcp://localhost:{KAFKA_PORT}"),
                start_period=start,
                shell=False,
            )
        return HealthCheck(
            (
                "CMD-SHELL",
                "/opt/kafka/bin/kafka-broker-api-versions.sh "
                f"--bootstrap-server localhost:{INTERNAL_PORT} >/dev/null 2>&1",
            ),
            start_period=start,
            timeout=15.0,
            heavy=True,
        )
    if kind == "postgres":
        from envctl.services.postgres.plugin import POSTGRES_PORT, PostgresSpec

        assert isinstance(spec, PostgresSpec)
        return HealthCheck(
            (
                "CMD",
                "pg_isready",
                "-h",
                "127.0.0.1",
                "-p",
                str(POSTGRES_PORT),
                "-U",
                spec.user,
                "-d",
                spec.database,
            ),
            start_period=start,
        )
    if kind == "redis":
        from envctl.services.redis.plugin import REDIS_PORT

        return HealthCheck(
            ("CMD-SHELL", f"redis-cli -h 127.0.0.1 -p {REDIS_PORT} ping | grep -q PONG"),
            start_period=start,
        )
    if kind == "generic":
        return _generic(spec, start)
    command = registry.plugin_for(kind).healthcheck_command(spec, image)
    if command is not None:
        return HealthCheck(("CMD", *command), start_period=start)
    return NoHealthCheck(f"service type '{kind}' has no health check")


def _generic(spec: ServiceSpecBase, start: float) -> HealthCheck | NoHealthCheck:
    from envctl.services.generic.plugin import GenericSpec

    assert isinstance(spec, GenericSpec)
    probe = spec.probe
    if probe is None:
        return NoHealthCheck("no probe: ready as soon as the container runs")
    if probe.exec is not None:
        command = list(probe.exec.command)
        if command[:2] == ["sh", "-c"] and len(command) == 3:
            return HealthCheck(("CMD-SHELL", command[2]), start_period=start)
        return HealthCheck(("CMD", *command), start_period=start)
    if probe.http is not None:
        url = f"http://127.0.0.1:{probe.http.port}{probe.http.path}"
        if probe.http.status is None:
            line = f"curl -fsS -o /dev/null {url} || wget -q -O /dev/null {url}"
        else:
            line = f"curl -s -o /dev/null -w %{{http_code}} {url} | grep -qx {probe.http.status}"
        return HealthCheck(("CMD-SHELL", line), start_period=start)
    if probe.tcp is not None:
        port = probe.tcp.port
        line = f"nc -z 127.0.0.1 {port} || bash -c 'exec 3<>/dev/tcp/127.0.0.1/{port}'"
        return HealthCheck(("CMD-SHELL", line), start_period=start)
    return NoHealthCheck("a log probe has no health-check form")
