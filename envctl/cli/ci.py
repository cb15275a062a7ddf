"""``envctl ci github``: generate a CI workflow that runs your scenarios.

Parse, call the library (:mod:`envctl.export.github`), print or write.
"""

from __future__ import annotations

from pathlib import Path

import click

from envctl.cli.common import check_option, output_option
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
@click.option(
    "--shards",
    type=click.IntRange(1, 256),
    default=1,
    show_default=True,
    help="Run the integration scenarios as a matrix of N `run-all --shard I/N` jobs and merge "
    "their results in a `report` job (with --category or --all; strategy envctl).",
)
@output_option
@check_option
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
    shards: int,
    output: Path | None,
    check: bool,
) -> None:
    """Write a GitHub Actions workflow: a fast `unit` job (mocks) and integration job(s).

    Give exactly one of --scenario NAME (repeatable), --category C or --all.
    """
    from envctl.export.github import (
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
    if shards > 1 and names:
        raise click.UsageError("--shards splits --category C or --all, not named scenarios")
    if shards > 1 and strategy != "envctl":
        raise click.UsageError(
            "--shards needs --strategy envctl (the services strategy already runs one job "
            "per scenario)"
        )
    selection = Selection(scenarios=names, category=category, everything=everything)
    settings = _settings(ctx)
    scenarios = select_scenarios(settings, selection)
    options = WorkflowOptions(
        strategy=Strategy(strategy),
        install=install,
        python=python_version,
        profile=profile,
        branch=branch,
        shards=shards,
    )
    workflow = github_workflow(scenarios, selection, options, settings)
    command = _command_line(
        "envctl",
        "ci",
        "github",
        *[part for name in names for part in ("--scenario", name)],
        *_changed(("--category", category, None)),
        *(["--all"] if everything else []),
        *_changed(
            ("--strategy", strategy, Strategy.ENVCTL.value),
            ("--install", install, DEFAULT_INSTALL),
            ("--python", python_version, DEFAULT_PYTHON),
            ("--profile", profile or None, None),
            ("--branch", branch, "main"),
            ("--shards", str(shards), "1"),
            ("-o", None if output is None else str(output), None),
        ),
    )
    for warning in workflow.warnings:
        _warn(warning)
    _write_or_check(render_workflow(workflow, command), output, check, command)


@ci_group.command("kubernetes")
@click.option("--shards", type=click.IntRange(1, 10000), required=True, help="Number of shards.")
@click.option("--category", help="Only the scenarios of a category (unit, integration, mixed).")
@click.option("--name", default="envctl-scenarios", show_default=True, help="The Job's name.")
@click.option(
    "--image",
    default="python:3.11-slim",
    show_default=True,
    help="The pod's image: Python, and with --scenarios image your project and envctl.",
)
@click.option(
    "--install",
    default="pip install envctl",
    show_default=True,
    help="Shell command run first in the pod; '' when the image has envctl.",
)
@click.option(
    "--scenarios",
    "scenarios_from",
    type=click.Choice(["configmap", "image"]),
    default="configmap",
    show_default=True,
    help="configmap: the scenario tree in a ConfigMap (<= 1 MiB); image: already in the image.",
)
@click.option(
    "--engine",
    type=click.Choice(["dind", "remote"]),
    default="dind",
    show_default=True,
    help="dind: a privileged docker:dind sidecar per pod; remote: DOCKER_HOST of your engine.",
)
@click.option("--docker-host", help="With --engine remote: tcp://... or ssh://...")
@click.option(
    "--results-claim",
    default="envctl-results",
    show_default=True,
    help="ReadWriteMany PersistentVolumeClaim the shards write their results to.",
)
@click.option("--profile", help="ENVCTL_PROFILE for the pods.")
@click.option("--parallelism", type=click.IntRange(1, 10000), help="Pods at once (default: all).")
@output_option
@check_option
@click.pass_context
def ci_kubernetes(
    ctx: click.Context,
    shards: int,
    category: str | None,
    name: str,
    image: str,
    install: str,
    scenarios_from: str,
    engine: str,
    docker_host: str | None,
    results_claim: str,
    profile: str | None,
    parallelism: int | None,
    output: Path | None,
    check: bool,
) -> None:
    """Write a Kubernetes Indexed Job running `run-all` in N shards (docs/scaling.md)."""
    from envctl.export.kubernetes import JobOptions, indexed_job, render_manifests

    settings = _settings(ctx)
    options = JobOptions(
        shards=shards,
        name=name,
        image=image,
        install=install,
        scenarios=scenarios_from,
        engine=engine,
        docker_host=docker_host,
        category=category,
        results_claim=results_claim,
        profile=profile,
        parallelism=parallelism,
    )
    documents = indexed_job(options, settings.scenarios_dir)
    command = _command_line(
        "envctl",
        "ci",
        "kubernetes",
        "--shards",
        str(shards),
        *_changed(
            ("--category", category, None),
            ("--name", name, "envctl-scenarios"),
            ("--image", image, "python:3.11-slim"),
            ("--install", install, "pip install envctl"),
            ("--scenarios", scenarios_from, "configmap"),
            ("--engine", engine, "dind"),
            ("--docker-host", docker_host, None),
            ("--results-claim", results_claim, "envctl-results"),
            ("--profile", profile, None),
            ("--parallelism", None if parallelism is None else str(parallelism), None),
            ("-o", None if output is None else str(output), None),
        ),
    )
    _write_or_check(render_manifests(documents, command), output, check, command)


def _changed(*options: tuple[str, str | None, str | None]) -> list[str]:
    """``FLAG VALUE`` for each ``(flag, value, default)`` given and other than the default:
    the options of the command line that regenerates the file."""
    return [
        part
        for flag, value, default in options
        if value is not None and value != default
        for part in (flag, value)
    ]
