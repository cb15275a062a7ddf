"""The ``envctl`` command: the root group, its error handling, and where each command lives.

One module per command group, each thin over the library (parse, call, print):

- :mod:`envctl.cli.scenarios`: ``validate``, ``schema``, ``graph``
- :mod:`envctl.cli.environments`: ``up``, ``status``, ``down``, ``gc``, ``health``
- :mod:`envctl.cli.faults`: ``fault``
- :mod:`envctl.cli.runs`: ``run``, ``run-all``, ``replay``, ``logs``, ``show``, ``compare``,
  ``check-protocols``
- :mod:`envctl.cli.data`: ``topics``, ``snapshot``
- :mod:`envctl.cli.ci`: ``ci``
- :mod:`envctl.cli.compose`: ``compose``
- :mod:`envctl.cli.profiles`: ``profile``
- :mod:`envctl.cli.report`: ``report merge``, ``report durations``, ``dashboard``
- :mod:`envctl.cli.common`: what they share (settings, JSON output, finding a scenario)

Library code raises :class:`~envctl.errors.EnvctlError`; :func:`main` turns it into one
line on stderr and an exit code.
"""

from __future__ import annotations

import importlib
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import click

from envctl.scenario.modes import RUNTIMES


class Terminated(BaseException):
    """SIGTERM arrived; unwinds like Ctrl-C so cleanup runs, then exits 143."""


def _on_signal(signum: int, _frame: object) -> NoReturn:
    # The first signal unwinds (cleanup runs in `finally` blocks); later ones must not
    # interrupt that cleanup, so they only say what is happening.
    signal.signal(signal.SIGINT, _while_cleaning)
    signal.signal(signal.SIGTERM, _while_cleaning)
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise Terminated()


def _while_cleaning(_signum: int, _frame: object) -> None:
    click.echo("envctl: removing what was started, please wait", err=True)


@contextmanager
def _signals() -> Iterator[None]:
    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# command name -> "module:attribute". Command modules are imported on first use, for
# start-up speed: `envctl run ...` imports only envctl.cli.runs (and the library modules it
# calls inside the command); `envctl --help` imports the command modules but no library.
COMMAND_MODULES = {
    "validate": "envctl.cli.scenarios:validate",
    "schema": "envctl.cli.scenarios:schema",
    "graph": "envctl.cli.scenarios:graph",
    "up": "envctl.cli.environments:up",
    "status": "envctl.cli.environments:status",
    "down": "envctl.cli.environments:down",
    "gc": "envctl.cli.environments:gc",
    "fault": "envctl.cli.faults:fault",
    "health": "envctl.cli.environments:health",
    "run": "envctl.cli.runs:run",
    "run-all": "envctl.cli.runs:run_all",
    "replay": "envctl.cli.runs:replay",
    "logs": "envctl.cli.runs:logs",
    "show": "envctl.cli.runs:show",
    "compare": "envctl.cli.runs:compare_command",
    "check-protocols": "envctl.cli.runs:check_protocols",
    "topics": "envctl.cli.data:topics",
    "snapshot": "envctl.cli.data:snapshot",
    "ci": "envctl.cli.ci:ci_group",
    "compose": "envctl.cli.compose:compose_group",
    "profile": "envctl.cli.profiles:profile_group",
    "report": "envctl.cli.report:report_group",
    "dashboard": "envctl.cli.report:dashboard",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported when first named (click's documented
    "lazily loading subcommands" pattern), for start-up speed."""

    def __init__(self, *args: object, lazy_commands: dict[str, str], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lazy_commands = lazy_commands

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands or cmd_name not in self.lazy_commands:
            return super().get_command(ctx, cmd_name)
        module_name, attribute = self.lazy_commands[cmd_name].split(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{self.lazy_commands[cmd_name]} is not a click command")
        self.add_command(command, cmd_name)
        return command


@click.group(
    cls=LazyGroup,
    lazy_commands=COMMAND_MODULES,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option(
    "--scenarios-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where scenario files live (default: ./scenarios, or ENVCTL_SCENARIOS_DIR).",
)
@click.option(
    "--profile",
    default=None,
    metavar="NAME[,NAME]",
    help="Environment profile(s) to lay over scenarios (default: ENVCTL_PROFILE).",
)
@click.option(
    "--runtime",
    type=click.Choice(RUNTIMES),
    default=None,
    help="Run every service envctl starts in Docker, as a local process, or whichever can "
    "be had (default: ENVCTL_RUNTIME, the project config, the scenario; else auto).",
)
@click.version_option(package_name="envctl")
@click.pass_context
def cli(
    ctx: click.Context, scenarios_dir: Path | None, profile: str | None, runtime: str | None
) -> None:
    """envctl: real dependencies (Kafka, Postgres, Redis, any container) for tests."""
    obj = ctx.ensure_object(dict)
    obj["scenarios_dir"] = scenarios_dir
    obj["profile"] = profile
    obj["runtime"] = runtime


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, turning envctl errors into one line and an exit code."""
    from envctl.errors import EnvctlError

    code = 0
    try:
        with _signals():
            cli.main(args=argv, prog_name="envctl", standalone_mode=False)
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.ClickException as exc:
        # One line, as every other error: what is wrong, and where help is.
        message = " ".join(exc.format_message().split())
        if isinstance(exc, click.UsageError) and exc.ctx is not None:
            message += f" (see {exc.ctx.command_path} --help)"
        click.echo(f"envctl: error: {message}", err=True)
        code = exc.exit_code
    except click.exceptions.Abort as exc:  # click's form of KeyboardInterrupt
        click.echo(_interrupted("interrupted", exc.__cause__ or exc), err=True)
        code = 130
    except EnvctlError as exc:
        click.echo(f"envctl: error: {exc}", err=True)
        for note in getattr(exc, "__notes__", []):
            click.echo(f"envctl: {note}", err=True)
        code = exc.exit_code
    except KeyboardInterrupt as exc:
        click.echo(_interrupted("interrupted", exc), err=True)
        code = 130
    except Terminated as exc:
        click.echo(_interrupted("terminated", exc), err=True)
        code = 143
    sys.exit(code)


def _interrupted(word: str, exc: BaseException) -> str:
    """What an interrupt left: the notes of whoever cleaned up (or kept) what it started;
    none when nothing had been started."""
    notes = getattr(exc, "__notes__", [])
    return f"envctl: {word}" + "".join(f"; {note}" for note in notes)
