"""The commands about scenario files: ``validate``, ``schema``, ``graph``.

Parse, call the library (:mod:`envctl.scenario`, :mod:`envctl.graph`), print.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from envctl.cli.common import emit_json as _emit_json
from envctl.cli.common import load_named as _load
from envctl.cli.common import relative as _relative
from envctl.cli.common import settings_of as _settings
from envctl.cli.common import warn_about as _warn_about

if TYPE_CHECKING:
    from envctl.settings import Settings


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.pass_context
def validate(ctx: click.Context, paths: tuple[Path, ...]) -> None:
    """Validate scenario files (default: every scenario under the scenarios dir).

    Exit 0 when all are valid, 2 otherwise; every problem is printed as
    FILE:LINE: KEY.PATH: MESSAGE.
    """
    from envctl.errors import ConfigError, Problem
    from envctl.scenario import scenario_files

    settings = _settings(ctx)
    files: list[tuple[Path, Settings]] = []
    index_problems: list[Problem] = []
    for path in paths or (settings.scenarios_dir,):
        try:
            is_dir = path.is_dir()
        except OSError:  # a name longer than the file system allows: load_scenario says so
            is_dir = False
        if is_dir:
            # A folder given here is the scenario tree of the files found in it.
            tree = settings.with_scenarios_dir(path)
            files.extend((file, tree) for file in scenario_files(path, index_problems))
        else:
            files.append((path, settings))
    if not files:
        raise ConfigError(f"no scenario files found under {settings.scenarios_dir}")
    failed = 1 if index_problems else 0
    for problem in index_problems:
        click.echo(str(problem), err=True)
    for file, file_settings in files:
        shown = _relative(file, settings.cwd)
        try:
            scenario = file_settings.load_scenario(shown)
        except ConfigError as exc:
            failed += 1
            click.echo(str(exc), err=True)
            continue
        _warn_about(scenario)
        click.echo(f"ok   {shown} ({scenario.name})")
    click.echo(f"{len(files) + bool(index_problems) - failed} valid, {failed} invalid", err=True)
    if failed:
        sys.exit(2)


@click.command()
def schema() -> None:
    """Print the JSON Schema of scenario files (for editor validation)."""
    from envctl.scenario.models import Scenario

    _emit_json(Scenario.model_json_schema())


@click.command()
@click.option("--scenario", "-s", "name", required=True, help="Scenario name or file.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "dot", "json"]),
    default="text",
    show_default=True,
    help="Levels as text, Graphviz dot, or JSON.",
)
@click.pass_context
def graph(ctx: click.Context, name: str, fmt: str) -> None:
    """Print a scenario's start order as levels (services of a level start in parallel)."""
    from envctl.graph import ServiceGraph

    scenario = _load(ctx, name)
    service_graph = ServiceGraph({n: s.depends_on for n, s in scenario.external_services.items()})
    if fmt == "dot":
        click.echo(service_graph.to_dot(scenario.name))
        return
    levels = service_graph.levels()
    if fmt == "json":
        _emit_json(
            {
                "scenario": scenario.name,
                "levels": levels,
                "depends_on": {n: service_graph.dependencies(n) for n in service_graph.services},
            }
        )
        return
    for index, level in enumerate(levels):
        parts = []
        for service in level:
            deps = service_graph.dependencies(service)
            parts.append(f"{service} (after {', '.join(deps)})" if deps else service)
        click.echo(f"level {index}: {', '.join(parts)}")
