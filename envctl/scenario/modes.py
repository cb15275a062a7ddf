"""The mode enums, in one place (standard library only, so the CLI can use them at start-up).

- :class:`DependencyMode`: does a scenario meet real services or in-memory doubles
  (``dependency_mode``, ``--force-dependency-mode``, ``ENVCTL_DEPENDENCY_MODE``).
- :class:`ServiceMode`: how envctl gets hold of a service (``mode:`` docker | external | cloud).
- :data:`RuntimeName` / :data:`RUNTIMES`: how a service envctl starts runs (``runtime:``,
  ``--runtime``, ``ENVCTL_RUNTIME``).

Which dependency mode each service of a run ends up in, and why, is decided by
:mod:`envctl.runner.modes`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, get_args


class DependencyMode(StrEnum):
    """Whether a scenario meets real services or in-memory doubles."""

    REAL = "real"
    MOCK = "mock"


class ServiceMode(StrEnum):
    """How envctl gets hold of a service."""

    DOCKER = "docker"
    """envctl starts a container and removes it afterwards (default)."""
    EXTERNAL = "external"
    """Already running somewhere; reached by address, never started or stopped."""
    CLOUD = "cloud"
    """External, plus credentials read from environment variables."""


RuntimeName = Literal["docker", "native", "auto"]
"""How a service envctl starts runs: a container, a local process, or whichever can be had."""

RUNTIMES: tuple[str, ...] = get_args(RuntimeName)
"""The runtime names, in the order help texts list them."""
