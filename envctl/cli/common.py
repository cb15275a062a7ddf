"""What the CLI command modules share: the settings of this invocation, JSON output,
finding a scenario by name, notes and warnings on stderr, and writing (or checking) a
generated file. Kept apart from :mod:`envctl.cli` so command modules need not import the
group that registers them."""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from envctl.scenario.models import Scenario
    from envctl.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])


def settings_of(ctx: click.Context) -> Settings:
    """The settings of this invocation, read once from the global options and environment."""
    from envctl.settings import Settings

    obj = ctx.ensure_object(dict)
    if "settings" not in obj:
        obj["settings"] = Settings.load(
            scenarios_dir=obj.get("scenarios_dir"),
            profile=obj.get("profile"),
            runtime=obj.get("runtime"),
        )
    settings: Settings = obj["settings"]
    return settings


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


def load_named(
    ctx: click.Context, name: str, profile: str | None = None, *, warn_now: bool = True
) -> Scenario:
    """The scenario called ``name`` (or at that path), as the global options say;
    ``profile`` (a command's own option) wins over ``--profile`` / ``ENVCTL_PROFILE``.
    Its warnings are printed (``warn_now``), unless a run's outcome will print them."""
    from envctl.scenario import find_scenario

    settings = settings_of(ctx)
    if profile is not None:
        settings = replace(settings, profile=profile)
    path = find_scenario(settings.scenarios_dir, name)
    scenario = settings.load_scenario(relative(path, settings.cwd))
    if warn_now:
        warn_about(scenario)
    return scenario


def warn_about(scenario: Scenario) -> None:
    """What loading ``scenario`` left out (keys of its compose file), one warning each."""
    for problem in scenario.warnings:
        warn(str(problem))


def relative(path: Path, cwd: Path) -> Path:
    """``path`` relative to ``cwd`` when it lies below it (shorter messages)."""
    try:
        return path.resolve().relative_to(cwd)
    except ValueError:
        return path


def check_run_id(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """click callback: a ``--run-id``/``RUN_ID`` is checked before any file or Docker call."""
    from envctl.report.run_folder import check_run_id as check

    return check(value) if value is not None else None


def check_output(_ctx: click.Context, _param: click.Parameter, value: Path | None) -> Path | None:
    """click callback: an output path (``--json FILE``, ``--junit``, ``-o``) that cannot be
    written fails before any work is done."""
    from envctl.report.output import output_target

    if value is not None:
        output_target(value)
    return value


def output_file_option(*param_decls: str, help: str) -> Callable[[F], F]:
    """An option naming a file to write (``-o``, ``--json FILE``, ``--junit``...), checked by
    :func:`check_output` before any work is done."""
    return click.option(
        *param_decls,
        type=click.Path(dir_okay=False, path_type=Path),
        callback=check_output,
        help=help,
    )


output_option = output_file_option("--output", "-o", help="Write here.")
"""``-o/--output FILE`` of a command that generates a file (see :func:`write_or_check`)."""

check_option = click.option(
    "--check", is_flag=True, help="Exit 1 if -o FILE differs from what would be written."
)
"""``--check`` of a command that generates a file (see :func:`write_or_check`)."""


def warn(message: str) -> None:
    """One ``envctl: warning:`` line on stderr."""
    click.echo(f"envctl: warning: {message}", err=True)


def note(message: str) -> None:
    """One ``envctl: note:`` line on stderr."""
    click.echo(f"envctl: note: {message}", err=True)


def command_line(*parts: str | None) -> str:
    """The shell-quoted command line of ``parts`` (``None`` parts left out)."""
    return shlex.join(p for p in parts if p is not None)


def write_or_check(text: str, output: Path | None, check: bool, command: str) -> None:
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
    from envctl.report.output import write_output

    write_output(output, text)
    click.echo(f"wrote {output}", err=True)
