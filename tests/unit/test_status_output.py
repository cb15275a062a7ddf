"""`status` filters and plain piped output; `up` prints connection strings whole when piped
(issue 10 §6)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

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
