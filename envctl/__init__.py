"""envctl: real dependencies (Kafka, Postgres, Redis, any container) for integration tests.

The public names are imported lazily so that importing envctl (and ``envctl --help``)
stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from envctl._lazy import lazy_exports

__version__ = "0.1.0"

if TYPE_CHECKING:
    from envctl.api import up
    from envctl.environment import Environment
    from envctl.errors import ConfigError, EnvctlError
    from envctl.scenario import Scenario, load_scenario
    from envctl.settings import Settings

_EXPORTS = {
    "up": "envctl.api",
    "Environment": "envctl.environment",
    "ConfigError": "envctl.errors",
    "EnvctlError": "envctl.errors",
    "Scenario": "envctl.scenario",
    "load_scenario": "envctl.scenario",
    "Settings": "envctl.settings",
}

__all__ = [
    "ConfigError",
    "EnvctlError",
    "Environment",
    "Scenario",
    "Settings",
    "load_scenario",
    "up",
]


__getattr__ = lazy_exports(__name__, _EXPORTS)
