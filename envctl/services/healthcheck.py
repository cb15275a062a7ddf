"""A container health check, as data: what a service type says for tools that start its
container themselves (GitHub job services, ``docker compose``). Each type's plugin builds
one in :meth:`~envctl.services.base.ServicePlugin.container_health_check`;
:mod:`envctl.export.health` documents the choices and the timings.
"""

from __future__ import annotations

import math
import shlex
from dataclasses import dataclass
from typing import Any

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
