"""The error hierarchy of envctl.

Library code raises these; only :mod:`envctl.cli` turns them into exit codes and
one-line messages. Anything that is not an :class:`EnvctlError` is a bug and keeps
its traceback.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class EnvctlError(Exception):
    """Root of every error a user can cause or fix. Printed without a traceback."""

    exit_code: int = 1


@dataclass(frozen=True)
class Problem:
    """One problem found in a scenario file: where it is and what is wrong."""

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        if self.path:
            return f"{where}: {self.path}: {self.message}"
        return f"{where}: {self.message}"


class ConfigError(EnvctlError):
    """A scenario or project config file is invalid. Carries every problem found."""

    exit_code = 2

    def __init__(self, problems: Sequence[Problem] | str) -> None:
        if isinstance(problems, str):
            self.problems: list[Problem] = []
            text = problems
        else:
            self.problems = list(problems)
            text = "\n".join(str(p) for p in self.problems)
        super().__init__(text)


class ScenarioNotFound(ConfigError):
    """No scenario of that name exists in the scenarios directory."""


class DockerUnavailable(EnvctlError):
    """The Docker daemon cannot be reached."""


class ImageNotFound(EnvctlError):
    """An image is not present locally and could not be pulled."""


class NativeUnavailable(EnvctlError):
    """A service cannot run as a local process (no native form, binary not installed)."""


class RuntimeConflict(EnvctlError):
    """Services on different runtimes that cannot reach each other (a container that
    depends on a native process)."""


class PortTaken(EnvctlError):
    """A pinned host port is already in use."""


class ServiceNotReady(EnvctlError):
    """A service did not pass its readiness probe in time."""

    def __init__(
        self,
        service: str,
        waited: float,
        last_probe: str,
        log_tail: Sequence[str] = (),
    ) -> None:
        self.service = service
        self.waited = waited
        self.last_probe = last_probe
        self.log_tail = list(log_tail)
        message = (
            f"service '{service}' was not ready after {waited:.1f}s "
            f"(last probe: {last_probe}); raise timeout_profiles.{service}.health_check "
            "or check the service"
        )
        if self.log_tail:
            message += " | last log lines: " + " / ".join(self.log_tail)
        super().__init__(message)


class ServiceFailed(EnvctlError):
    """A service could not be started or set up (other than a readiness timeout)."""

    def __init__(self, service: str, reason: str) -> None:
        self.service = service
        self.reason = reason
        super().__init__(f"service '{service}': {reason}")


class SeedError(ConfigError):
    """A seed file is missing, outside the scenario tree, or holds a bad record."""

    def __init__(self, file: str, line: int | None, message: str) -> None:
        self.file = file
        self.line = line
        super().__init__([Problem(file, line, "", message)])


class SeedRejected(EnvctlError):
    """The real service rejected seed data the file holds (e.g. SQLite syntax in a Postgres
    migration): an integration fault found, not a config error — the run fails (exit 1)."""

    def __init__(
        self, file: str, line: int | None, service: str, message: str, into: str = ""
    ) -> None:
        self.file = file
        self.line = line
        self.service = service
        self.reason = message
        where = f"{file}:{line}" if line is not None else file
        target = f" into {into}" if into else ""
        super().__init__(f"{where}: service '{service}' rejected the seed{target}: {message}")

    def into(self, target: str) -> SeedRejected:
        """The same rejection, naming what the seed went into (``database 'app' (...)``)."""
        return SeedRejected(self.file, self.line, self.service, self.reason, target)


class SnapshotError(EnvctlError):
    """A snapshot cannot be saved, restored or compared; the message says why and what to do."""


class StateDirUnwritable(EnvctlError):
    """envctl's state folder (``ENVCTL_STATE_DIR``, ``.envctl``) cannot be written."""

    exit_code = 2
