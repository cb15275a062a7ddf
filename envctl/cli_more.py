"""More ``envctl`` commands: ``ci``, ``compose``, ``profile`` and ``compare``.

Like :mod:`envctl.cli`: parse, call the library, print. :mod:`envctl.cli` registers them
(``cli.add_command(...)``).
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from envctl.cli_common import load_named as _load
from envctl.cli_common import settings_of as _settings

if TYPE_CHECKING:
    pass


def _warn(message: str) -> None:
    click.echo(f"envctl: warning: {message}", err=True)


def _note(message: str) -> None:
    click.echo(f"envctl: note: {message}", err=True)


def _command_line(*parts: str | None) -> str:
    return shlex.join(p for p in parts if p is not None)


def _write_or_check(text: str, output: Path | None, check: bool, command: str) -> None:
    """Print ``text``, write it to ``output``, or (``check``) compare it with ``output``."""
    from envctl.errors import EnvctlError

    if check:
        if output is None:
            raise click.UsageError("--check needs -o FILE (the file to compare with)")
        current = output.read_text(encoding="utf-8") if output.is_file() else None
        if current != text:
            state = "is missing" if current is None else "is out of date"
            raise EnvctlError(f"{output} {state}; regenerate it: {command}")
        click.echo(f"{output} is up to date")
        return
    if output is None:
        click.echo(text, nl=False)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    click.echo(f"wrote {output}", err=True)


# -- envctl ci -------------------------------------------------------------------------------------


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


# -- envctl compose ------------------------------------------------------------------------------


@click.group("compose")
def compose_group() -> None:
    """Compose interop: export a scenario as a compose file, import compose services."""


@compose_group.command("export")
@click.option("--scenario", "-s", "name", required=True, help="Scenario name or file.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write here.")
@click.option("--profile", help="Apply this profile first (default: ENVCTL_PROFILE).")
@click.option(
    "--no-start-interval",
    is_flag=True,
    help="Leave out healthcheck start_interval (compose refuses it on Docker Engine < 25).",
)
@click.option(
    "--validate",
    is_flag=True,
    help="Run `docker compose config` on the result (needs the compose v2 CLI).",
)
@click.option("--check", is_flag=True, help="Exit 1 if -o FILE differs from what would be written.")
@click.pass_context
def compose_export(
    ctx: click.Context,
    name: str,
    output: Path | None,
    profile: str | None,
    no_start_interval: bool,
    validate: bool,
    check: bool,
) -> None:
    """Write a scenario's docker-mode services as a compose file.

    Start it with `docker compose -f FILE up -d --wait`: services start in the scenario's
    dependency order and the command returns when every health check passes.
    """
    from envctl.compose.export import compose_project, render_compose

    scenario = _load(ctx, name, profile)
    base_dir = output.resolve().parent if output is not None else Path.cwd()
    export = compose_project(
        scenario, _settings(ctx), start_interval=not no_start_interval, base_dir=base_dir
    )
    command = _command_line(
        "envctl",
        "compose",
        "export",
        "--scenario",
        name,
        *(["--profile", profile] if profile else []),
        *(["--no-start-interval"] if no_start_interval else []),
        *(["-o", str(output)] if output is not None else []),
    )
    for note in export.notes:
        _note(note)
    text = render_compose(export, command)
    _write_or_check(text, output, check, command)
    if validate:
        _validate_compose(text, output)


def _validate_compose(text: str, output: Path | None) -> None:
    import tempfile

    from envctl.compose.client import compose_config

    if output is not None and output.is_file():
        compose_config(output)
    else:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "compose.yaml"
            path.write_text(text, encoding="utf-8")
            compose_config(path)
    click.echo("docker compose config: valid", err=True)


@compose_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--service", "services", multiple=True, help="A service to take (default: all).")
@click.option("--name", "scenario_name", help="The scenario's name (default: the file's folder).")
@click.option("--keep-host-ports", is_flag=True, help="Keep the file's host ports pinned.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write here.")
@click.pass_context
def compose_import(
    ctx: click.Context,
    file: Path,
    services: tuple[str, ...],
    scenario_name: str | None,
    keep_host_ports: bool,
    output: Path | None,
) -> None:
    """Write a scenario with the services of a compose file (migrating off compose)."""
    import re

    from envctl.ci.yamltext import render_yaml
    from envctl.compose.translate import read_compose_file, translate_services

    settings = _settings(ctx)
    compose_file = file.resolve()
    scenario_dir = output.resolve().parent if output is not None else settings.cwd
    imported = translate_services(
        read_compose_file(compose_file, settings.environ),
        services,
        compose_dir=compose_file.parent,
        scenario_dir=scenario_dir,
        keep_host_ports=keep_host_ports,
        display=str(file),
    )
    name = scenario_name or re.sub(r"[^A-Za-z0-9_.-]+", "_", compose_file.parent.name).strip("_.-")
    data: dict[str, Any] = {
        "name": name or "imported",
        "description": f"Services from {file.name}.",
        "dependency_mode": "real",
        "external_services": imported.services,
    }
    if imported.timeout_profiles:
        data["timeout_profiles"] = imported.timeout_profiles
    command = _command_line(
        "envctl",
        "compose",
        "import",
        str(file),
        *[part for s in services for part in ("--service", s)],
        *(["--name", scenario_name] if scenario_name else []),
        *(["--keep-host-ports"] if keep_host_ports else []),
        *(["-o", str(output)] if output is not None else []),
    )
    for note in imported.notes:
        _note(note)
    header = f"Made by `{command}`.\nEdit freely: envctl does not regenerate it."
    _write_or_check(render_yaml(data, header), output, False, command)


# -- envctl profile -------------------------------------------------------------------------------


@click.group("profile")
def profile_group() -> None:
    """Environment profiles: overlays chosen with --profile / ENVCTL_PROFILE."""


@profile_group.command("list")
@click.option("--scenario", "-s", "name", help="Also the profiles this scenario defines.")
@click.pass_context
def profile_list(ctx: click.Context, name: str | None) -> None:
    """List the profiles a scenario (or every scenario) can use."""
    from envctl.profiles import BUILTIN_PROFILES, known_profiles

    settings = _settings(ctx)
    project = dict(settings.project_profiles)
    own = dict(_load(ctx, name, profile="").profiles) if name is not None else {}
    for profile_name, where in sorted(known_profiles({"profiles": own}, project).items()):
        definition = own.get(profile_name) or project.get(profile_name)
        description = BUILTIN_PROFILES.get(profile_name) or (
            definition.description if definition is not None else ""
        )
        click.echo(f"{profile_name:<16} {where:<24} {description}".rstrip())


@profile_group.command("show")
@click.argument("profile")
@click.option("--scenario", "-s", "name", required=True, help="Scenario name or file.")
@click.pass_context
def profile_show(ctx: click.Context, profile: str, name: str) -> None:
    """Print what PROFILE changes in a scenario, one `key.path: old -> new` per line.

    PROFILE may list several, comma-separated (applied in order).
    """
    from envctl.profiles import apply_profile, profile_changes, scenario_data, validated

    settings = _settings(ctx)
    scenario = _load(ctx, name, profile="")
    before = scenario_data(scenario)
    after = apply_profile(before, profile, dict(settings.project_profiles), settings.environ)
    validated(after, scenario)  # the result must still be a valid scenario
    changes = profile_changes(before, after)
    for line in changes:
        click.echo(line)
    if not changes:
        click.echo(f"profile '{profile}' changes nothing in {scenario.name}", err=True)


# -- envctl compare -------------------------------------------------------------------------------


@click.command("compare")
@click.argument("run_a")
@click.argument("run_b")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option(
    "--fail-on-regression",
    is_flag=True,
    help="Exit 1 when a scenario that passed in RUN_A does not pass in RUN_B.",
)
@click.pass_context
def compare_command(
    ctx: click.Context, run_a: str, run_b: str, as_json: bool, fail_on_regression: bool
) -> None:
    """Compare two recorded runs: status and time of every scenario.

    RUN_A and RUN_B are run ids under .envctl/runs (the state folder: ENVCTL_STATE_DIR),
    run directories, or result.json files.
    """
    import json

    from envctl.ci.compare import compare, format_comparison, read_result, result_file
    from envctl.report.audit import runs_dir

    settings = _settings(ctx)
    root = runs_dir(settings)
    a = read_result(result_file(run_a, root))
    b = read_result(result_file(run_b, root))
    comparison = compare(a, b)
    if as_json:
        click.echo(json.dumps(comparison.to_dict(), indent=2))
    else:
        click.echo(format_comparison(comparison))
    if fail_on_regression and comparison.regressions:
        names = ", ".join(s.name for s in comparison.regressions)
        click.echo(f"envctl: regressions: {names}", err=True)
        sys.exit(1)


COMMANDS = (ci_group, compose_group, profile_group, compare_command)
"""What :mod:`envctl.cli` registers."""
