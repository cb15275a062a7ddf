"""``envctl ci github``: generate a CI workflow that runs your scenarios.

Parse, call the library (:mod:`envctl.ci.github`), print or write.
"""

from __future__ import annotations

from pathlib import Path

import click

from envctl.cli.common import command_line as _command_line
from envctl.cli.common import settings_of as _settings
from envctl.cli.common import warn as _warn
from envctl.cli.common import write_or_check as _write_or_check


@click.group("ci")
def ci_group() -> None:
    """Generate CI configuration that runs your scenarios."""


@ci_group.command("github")
@click.option("--scenario", "-s", "names", multiple=True, help="A scenario to run (repeatable).")
@click.option("--category", help="Every scenario of a category (unit, integration, mixed).")
@click.option("--all", "everything", is_flag=True, help="Every scenario.")
@click.option(
    "--strategy",
    type=click.Choice(["envctl", "services"]),
    default="envctl",
    show_default=True,
    help="envctl: envctl starts the services on the runner's Docker; services: GitHub job "
    "services, envctl attaches to them in external mode.",
)
@click.option(
    "--install",
    default="pip install envctl",
    show_default=True,
    help="Shell command that installs envctl (and what your scenarios need).",
)
@click.option("--python", "python_version", default="3.11", show_default=True)
@click.option("--profile", help="ENVCTL_PROFILE for the integration jobs (e.g. ci).")
@click.option("--branch", default="main", show_default=True, help="Pushes to it run the workflow.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write here.")
@click.option("--check", is_flag=True, help="Exit 1 if -o FILE differs from what would be written.")
@click.pass_context
def ci_github(
    ctx: click.Context,
    names: tuple[str, ...],
    category: str | None,
    everything: bool,
    strategy: str,
    install: str,
    python_version: str,
    profile: str | None,
    branch: str,
    output: Path | None,
    check: bool,
) -> None:
    """Write a GitHub Actions workflow: a fast `unit` job (mocks) and integration job(s).

    Give exactly one of --scenario NAME (repeatable), --category C or --all.
    """
    from envctl.ci.github import (
        DEFAULT_INSTALL,
        DEFAULT_PYTHON,
        Selection,
        Strategy,
        WorkflowOptions,
        github_workflow,
        render_workflow,
        select_scenarios,
    )

    if sum([bool(names), category is not None, everything]) != 1:
        raise click.UsageError("give exactly one of --scenario NAME, --category C or --all")
    selection = Selection(scenarios=names, category=category, everything=everything)
    settings = _settings(ctx)
    scenarios = select_scenarios(settings, selection)
    options = WorkflowOptions(
        strategy=Strategy(strategy),
        install=install,
        python=python_version,
        profile=profile,
        branch=branch,
    )
    workflow = github_workflow(scenarios, selection, options, settings)
    args: list[str | None] = ["envctl", "ci", "github"]
    for name in names:
        args += ["--scenario", name]
    if category is not None:
        args += ["--category", category]
    if everything:
        args.append("--all")
    if strategy != Strategy.ENVCTL.value:
        args += ["--strategy", strategy]
    if install != DEFAULT_INSTALL:
        args += ["--install", install]
    if python_version != DEFAULT_PYTHON:
        args += ["--python", python_version]
    if profile:
        args += ["--profile", profile]
    if branch != "main":
        args += ["--branch", branch]
    if output is not None:
        args += ["-o", str(output)]
    command = _command_line(*args)
    for warning in workflow.warnings:
        _warn(warning)
    _write_or_check(render_workflow(workflow, command), output, check, command)
