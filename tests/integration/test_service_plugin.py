"""A service type from another package: ``type: echo`` (tests/integration/echo_service/)
is installed on a temporary path — its package and a dist-info whose entry points come from
its own pyproject.toml, as pip lays them out — and envctl, unchanged, validates it, lists it
in the schema, starts it, probes it over its protocol, and removes it."""

from __future__ import annotations

import os
import shutil
import socket
import tomllib
from pathlib import Path
from typing import Any

import pytest
from support import REPO, managed_resources, run_envctl, up_json

ECHO_SOURCE = Path(__file__).resolve().parent / "echo_service"


def install_echo(site: Path) -> None:
    """What ``pip install --target site tests/integration/echo_service`` leaves behind."""
    project = tomllib.loads((ECHO_SOURCE / "pyproject.toml").read_text())["project"]
    shutil.copytree(ECHO_SOURCE / "envctl_echo", site / "envctl_echo")
    info = site / f"envctl_echo-{project['version']}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n"
    )
    lines = []
    for group, entries in project["entry-points"].items():
        lines.append(f"[{group}]")
        lines += [f"{name} = {value}" for name, value in entries.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")


@pytest.fixture
def echo_env(tmp_path: Path, test_env: dict[str, str]) -> dict[str, str]:
    site = tmp_path / "site"
    install_echo(site)
    env = dict(test_env)
    path = [str(site), str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]
    env["PYTHONPATH"] = os.pathsep.join(path)
    return env


def write_scenario(folder: Path, service_type: str) -> Path:
    path = folder / "scenario_echo.yaml"
    path.write_text(
        "name: echo_plugin\n"
        "dependency_mode: real\n"
        "external_services:\n"
        "  echo:\n"
        f"    type: {service_type}\n"
        "    greeting: hello\n"
    )
    return path


def test_a_type_from_another_package_validates_and_is_in_the_schema(
    echo_env: dict[str, str], tmp_path: Path
) -> None:
    good = write_scenario(tmp_path, "echo")
    result = run_envctl("validate", str(good), env=echo_env)
    assert result.returncode == 0, result.stderr

    schema = run_envctl("schema", env=echo_env)
    assert schema.returncode == 0, schema.stderr
    assert '"echo"' in schema.stdout and "EchoSpec" in schema.stdout

    typo = write_scenario(tmp_path, "ecko")
    bad = run_envctl("validate", str(typo), env=echo_env)
    assert bad.returncode == 2
    assert "unknown service type 'ecko' — did you mean 'echo'?" in bad.stdout + bad.stderr


def test_without_the_package_the_type_is_unknown(test_env: dict[str, str], tmp_path: Path) -> None:
    result = run_envctl("validate", str(write_scenario(tmp_path, "echo")), env=test_env)
    assert result.returncode == 2
    assert "unknown service type 'echo'" in result.stdout + result.stderr


def test_a_type_from_another_package_starts_probes_and_is_removed(
    echo_env: dict[str, str], tmp_path: Path, docker_client: Any
) -> None:
    scenario = write_scenario(tmp_path, "echo")
    data = up_json(run_envctl("up", "--scenario", str(scenario), "--json", env=echo_env))
    run_id = data["run_id"]
    try:
        echo = data["services"]["echo"]
        assert echo["type"] == "echo" and echo["status"] == "ready"
        container = docker_client.containers.get(echo["container"])
        assert container.labels["io.envctl.run-id"] == run_id
        host, port = echo["address"].rsplit(":", 1)
        assert host == "127.0.0.1"
        with socket.create_connection((host, int(port)), timeout=10) as conn:
            conn.sendall(b"round trip\n")
            assert conn.recv(64) == b"round trip\n"
    finally:
        down = run_envctl("down", "--run-id", run_id, env=echo_env)
    assert down.returncode == 0, down.stderr
    assert managed_resources(docker_client, run_id) == []
