"""`status` filters and plain piped output; `up` and `status` print connection strings whole,
piped and on an 80-column terminal (issue 10 §6)."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from terminal import envctl_env, plain, run_in_terminal

from envctl.cli import cli
from envctl.engine import Environment, ServiceState
from envctl.runtime.base import ManagedResource
from envctl.scenario.models import Scenario

LONG_DSN = "postgresql://postgres:envctl@127.0.0.1:54321/envctl_1234abcd_a_rather_long_database"


class FakeRuntimes:
    def __init__(self) -> None:
        self.asked: list[Mapping[str, str] | None] = []
        self.docker_error = None

    def list_managed(self, labels: Mapping[str, str] | None = None) -> list[ManagedResource]:
        self.asked.append(labels)
        return [
            ManagedResource(
                "container",
                "c1",
                "envctl-s-db-r1",
                {
                    "io.envctl.run-id": "r1",
                    "io.envctl.scenario": "s",
                    "io.envctl.service": "db",
                    "io.envctl.endpoints": f'{{"dsn": "{LONG_DSN}"}}',
                },
                "running",
            )
        ]


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeRuntimes:
    import envctl.cli.environments as environments
    from envctl.runtime import combined

    runtimes = FakeRuntimes()
    monkeypatch.setattr(combined.Runtimes, "for_settings", classmethod(lambda cls, s: runtimes))
    monkeypatch.setattr(environments, "_warm_instances", lambda settings, runtimes: [])
    return runtimes


def test_status_piped_is_plain_and_whole(fake: FakeRuntimes, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["status"], env={"ENVCTL_STATE_DIR": str(tmp_path)})
    assert result.exit_code == 0, result.output
    assert result.output == f"r1 s db status=running dsn={LONG_DSN}\n"


def test_status_piped_prints_topics_one_key_each(
    fake: FakeRuntimes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kafka = ManagedResource(
        "container",
        "c2",
        "envctl-s-kafka-r1",
        {
            "io.envctl.run-id": "r1",
            "io.envctl.scenario": "s",
            "io.envctl.service": "kafka",
            "io.envctl.endpoints": json.dumps(CONNECTIONS["kafka"]),
        },
        "running",
    )
    monkeypatch.setattr(fake, "list_managed", lambda labels=None: [kafka])
    result = CliRunner().invoke(cli, ["status"], env={"ENVCTL_STATE_DIR": str(tmp_path)})
    assert result.exit_code == 0, result.output
    assert result.output == (
        "r1 s kafka status=running bootstrap_servers=127.0.0.1:39092"
        " topics.orders.created=envctl_1a2b3c4d_orders.created"
        " topics.orders.dead-letter-queue=envctl_1a2b3c4d_orders.dead-letter-queue\n"
    )


def test_status_filters_by_label_and_owner(fake: FakeRuntimes, tmp_path: Path) -> None:
    args = ["status", "--label", "ci.job=42", "--owner", "ci-7"]
    result = CliRunner().invoke(cli, args, env={"ENVCTL_STATE_DIR": str(tmp_path)})
    assert result.exit_code == 0, result.output
    assert fake.asked == [{"ci.job": "42", "io.envctl.owner-host": "ci-7"}]
    bad = CliRunner().invoke(cli, ["status", "--label", "nokey"])
    assert bad.exit_code == 2 and "write KEY=VALUE" in bad.output


def test_up_piped_prints_service_lines_whole(capsys: pytest.CaptureFixture[str]) -> None:
    from envctl.cli.environments import _print_environment

    scenario = Scenario.model_validate(
        {"name": "s", "external_services": {"db": {"type": "postgres"}}}
    )
    state = ServiceState("db", "postgres", "docker", status="ready", endpoints={"dsn": LONG_DSN})
    env: Any = Environment("r1", scenario, None, {"db": state}, None)
    _print_environment(env, 1.5)
    lines = capsys.readouterr().out.splitlines()
    assert f"db type=postgres status=ready dsn={LONG_DSN}" in lines
    assert lines[-1] == "remove with: envctl down --run-id r1"


def test_up_piped_prints_topics_one_key_each(capsys: pytest.CaptureFixture[str]) -> None:
    from envctl.cli.environments import _print_environment

    scenario = Scenario.model_validate(
        {"name": "s", "external_services": {"kafka": {"type": "kafka"}}}
    )
    endpoints = {"bootstrap_servers": "127.0.0.1:39092", "topics": {"orders": "envctl.r1.orders"}}
    state = ServiceState("kafka", "kafka", "docker", status="ready", endpoints=endpoints)
    env: Any = Environment("r1", scenario, None, {"kafka": state}, None)
    _print_environment(env, 1.5)
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == (
        "kafka type=kafka status=ready bootstrap_servers=127.0.0.1:39092"
        " topics.orders=envctl.r1.orders"
    )


# -- on a terminal: short columns in a table, connection strings whole below it --------------

CONNECTIONS = {
    "kafka": {
        "bootstrap_servers": "127.0.0.1:39092",
        "topics": {
            "orders.created": "envctl_1a2b3c4d_orders.created",
            "orders.dead-letter-queue": "envctl_1a2b3c4d_orders.dead-letter-queue",
        },
    },
    "db": {"dsn": LONG_DSN, "host": "127.0.0.1", "port": 54321},
    "cache": {"url": "redis://127.0.0.1:63790/0"},
}
"""A scenario's endpoints, as the plugins report them: together far wider than 80 columns."""

UP_ON_A_TERMINAL = f"""
from envctl.cli.environments import _print_environment
from envctl.engine import Environment, ServiceState
from envctl.scenario.models import Scenario

connections = {CONNECTIONS!r}
types = {{"kafka": "kafka", "db": "postgres", "cache": "redis"}}
scenario = Scenario.model_validate(
    {{"name": "shop_checkout_end_to_end",
      "external_services": {{n: {{"type": t}} for n, t in types.items()}}}}
)
services = {{
    n: ServiceState(n, types[n], "docker", status="ready", endpoints=connections[n],
                    container=f"envctl-shop_checkout_end_to_end-{{n}}-1a2b3c4d")
    for n in types
}}
_print_environment(Environment("1a2b3c4d", scenario, None, services, None), 4.2)
"""

STATUS_ON_A_TERMINAL = f"""
import envctl.cli.environments as environments
from envctl.cli import cli
from envctl.runtime import combined
from envctl.runtime.base import ManagedResource
import json

connections = {CONNECTIONS!r}

class Runtimes:
    docker_error = None
    def list_managed(self, labels=None):
        return [
            ManagedResource("container", n, f"envctl-shop-{{n}}-1a2b3c4d", {{
                "io.envctl.run-id": "1a2b3c4d",
                "io.envctl.scenario": "shop_checkout_end_to_end",
                "io.envctl.service": n,
                "io.envctl.created": "2026-12-01T19:30:00+00:00",
                "io.envctl.endpoints": json.dumps(e),
            }}, "running")
            for n, e in connections.items()
        ]

combined.Runtimes.for_settings = classmethod(lambda cls, settings: Runtimes())
environments._warm_instances = lambda settings, runtimes: []
cli(["status"], prog_name="envctl")
"""


def _connection_strings() -> list[str]:
    """Each as the user would type it: a topic is ``topics.LOGICAL=PHYSICAL``."""
    strings = []
    for endpoints in CONNECTIONS.values():
        for key, value in endpoints.items():
            if isinstance(value, dict):
                strings.extend(f"{key}.{k}={v}" for k, v in value.items())
            else:
                strings.append(f"{key}={value}")
    return strings


def test_topics_are_printed_as_dotted_keys_not_a_dict() -> None:
    assert "topics.orders.created=envctl_1a2b3c4d_orders.created" in _connection_strings()


def test_the_connection_strings_are_wider_than_the_terminal() -> None:
    assert max(len(s) for s in _connection_strings()) > 80  # else the tests below prove nothing


@pytest.mark.parametrize("script", [UP_ON_A_TERMINAL, STATUS_ON_A_TERMINAL], ids=["up", "status"])
def test_on_an_80_column_terminal_connection_strings_are_whole(script: str) -> None:
    run = run_in_terminal([sys.executable, "-c", script], env=envctl_env(), columns=80)
    assert run.returncode == 0, run.text
    assert "\x1b[" in run.raw  # rich drew for a terminal, not the piped form
    for connection in _connection_strings():
        assert connection in run.text, f"cut: {connection}\n{run.text}"
    assert "1a2b3c4d" in run.text


def test_up_on_a_terminal_keeps_the_table_short_and_says_how_to_remove(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from rich.console import Console

    from envctl.cli.environments import show_environment

    scenario = Scenario.model_validate(
        {"name": "s", "external_services": {"db": {"type": "postgres"}}}
    )
    state = ServiceState("db", "postgres", "docker", status="ready", endpoints={"dsn": LONG_DSN})
    env: Any = Environment("r1", scenario, None, {"db": state}, None)
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=80, highlight=False, soft_wrap=True)
    show_environment(console, env, 1.5)
    text = plain(out.getvalue())
    assert f"  db  dsn={LONG_DSN}\n" in text
    assert all(len(line) <= 80 for line in text.splitlines() if "dsn=" not in line)
    assert text.splitlines()[-1] == "Remove with: envctl down --run-id r1"
