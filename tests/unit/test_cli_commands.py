"""The root group loads its commands on first use: every entry of the table names a click
command of that name, and importing the CLI imports no command module and no library."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

from envctl.cli import COMMAND_MODULES, cli


@pytest.mark.parametrize("name", sorted(COMMAND_MODULES))
def test_every_listed_command_loads_under_its_name(name: str) -> None:
    ctx = click.Context(cli, info_name="envctl")
    command = cli.get_command(ctx, name)
    assert isinstance(command, click.Command)
    assert command.name == name


def test_the_listing_is_the_table() -> None:
    ctx = click.Context(cli, info_name="envctl")
    assert cli.list_commands(ctx) == sorted(COMMAND_MODULES)


def test_importing_the_cli_loads_no_command_module_nor_library() -> None:
    code = (
        "import sys, envctl.cli; "
        "print(sorted(m for m in sys.modules if m.startswith(('envctl.cli.', 'pydantic', "
        "'docker', 'confluent_kafka', 'envctl.scenario.models', 'envctl.engine'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_help_loads_the_command_modules_but_no_library() -> None:
    """``envctl --help`` imports every command module (for the short help) and nothing
    heavy: command modules import the library inside their commands (start-up speed)."""
    code = (
        "import contextlib, io, sys\n"
        "from envctl.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        "        main(['--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "heavy = ('pydantic', 'docker', 'confluent_kafka', 'psycopg', 'redis', 'yaml', 'rich')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
