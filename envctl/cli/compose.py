"""``envctl compose export|import``: compose interop.

Parse, call the library (:mod:`envctl.export.compose`; import: :mod:`envctl.scenario.compose`),
print or write.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from envctl.cli.common import check_option, output_option
from envctl.cli.common import command_line as _command_line
from envctl.cli.common import load_named as _load
from envctl.cli.common import note as _note
from envctl.cli.common import settings_of as _settings
from envctl.cli.common import warn as _warn
from envctl.cli.common import write_or_check as _write_or_check


@click.group("compose")
def compose_group() -> None:
    """Compose interop: export a scenario as a compose file, import compose services."""


@compose_group.command("export")
@click.option("--scenario", "-s", "name", required=True, help="Scenario name or file.")
@output_option
@click.option("--profile", help="Apply this profile first (default: ENVCTL_PROFILE).")
@click.option(
    "--start-interval/--no-start-interval",
    default=None,
    help="Put healthcheck start_interval in, or leave it out (compose refuses it on Docker "
    "Engine < 25). Default: in when the Docker Engine answering is 25 or later, else out.",
)
@click.option(
    "--validate",
    is_flag=True,
    help="Run `docker compose config` on the result (needs the compose v2 CLI).",
)
@check_option
@click.pass_context
def compose_export(
    ctx: click.Context,
    name: str,
    output: Path | None,
    profile: str | None,
    start_interval: bool | None,
    validate: bool,
    check: bool,
) -> None:
    """Write a scenario's docker-mode services as a compose file.

    Start it with `docker compose -f FILE up -d --wait`: services start in the scenario's
    dependency order and the command returns when every health check passes.
    Healthchecks carry start_interval only where the Docker Engine answering is 25 or later
    (a header line of the file says which form and why).
    """
    from envctl.export.compose import choose_start_interval, compose_project, render_compose

    scenario = _load(ctx, name, profile)
    settings = _settings(ctx)
    base_dir = output.resolve().parent if output is not None else Path.cwd()
    form = choose_start_interval(start_interval, lambda: _engine_version(settings.environ))
    export = compose_project(scenario, settings, start_interval=form.include, base_dir=base_dir)
    command = _command_line(
        "envctl",
        "compose",
        "export",
        "--scenario",
        name,
        *(["--profile", profile] if profile else []),
        *([] if start_interval is None else [f"--{'' if start_interval else 'no-'}start-interval"]),
        *(["-o", str(output)] if output is not None else []),
    )
    for note in export.notes:
        _note(note)
    text = render_compose(export, command, form)
    _write_or_check(text, output, check, command)
    if validate:
        _validate_compose(text, output)


def _engine_version(environ: Mapping[str, str]) -> str | None:
    from envctl.runtime.docker import engine_version

    return engine_version(environ)


def _validate_compose(text: str, output: Path | None) -> None:
    import tempfile

    from envctl.export.compose_cli import compose_config

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
@output_option
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

    from envctl.export.yamltext import render_yaml
    from envctl.scenario.compose import read_compose_document, translate_services

    settings = _settings(ctx)
    compose_file = file.resolve()
    scenario_dir = output.resolve().parent if output is not None else settings.cwd
    compose, positions = read_compose_document(compose_file, settings.environ, str(file))
    imported = translate_services(
        compose,
        services,
        positions=positions,
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
    for dropped in imported.dropped:
        (_warn if dropped.refused else _note)(dropped.import_message())
    header = f"Made by `{command}`.\nEdit freely: envctl does not regenerate it."
    _write_or_check(render_yaml(data, header), output, False, command)
