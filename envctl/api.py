"""The library face of envctl: what the CLI does, callable from Python.

import envctl

with envctl.up("kafka_real_basic") as env:
    servers = env.endpoints("kafka")["bootstrap_servers"]
    ...
# everything the run created is removed here
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from envctl.engine import Engine, Progress
from envctl.environment import Environment
from envctl.scenario import find_scenario
from envctl.scenario.models import Scenario
from envctl.settings import Settings


def resolve_scenario(scenario: str | Path | Scenario, settings: Settings) -> Scenario:
    """A loaded scenario from a name, a file path, or an already-loaded model."""
    if isinstance(scenario, Scenario):
        return scenario
    path = find_scenario(settings.scenarios_dir, str(scenario))
    return settings.load_scenario(path)


def up(
    scenario: str | Path | Scenario,
    *,
    settings: Settings | None = None,
    environ: Mapping[str, str] | None = None,
    keep_on_failure: bool = False,
    progress: Progress | None = None,
) -> Environment:
    """Start a scenario's services and return the ready :class:`Environment`.

    Use it as a context manager to take everything down on exit, or call
    ``env.down()`` yourself.
    """
    from envctl.runtime.docker import DockerRuntime

    settings = settings or Settings.load(environ=environ)
    loaded = resolve_scenario(scenario, settings)
    engine = Engine(settings, lambda: DockerRuntime.connect(settings.environ), progress)
    return engine.up(loaded, keep_on_failure=keep_on_failure)
