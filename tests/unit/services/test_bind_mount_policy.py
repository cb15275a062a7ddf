"""Containers get only what the scenario is allowed to give them (issue 10 §3c).

Loading the scenario (``envctl validate``) refuses a host path outside the project and the
Docker socket, with the file's line; building the container refuses them again, for a
scenario made in code that no loader checked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from envctl.environment import build_plugin
from envctl.errors import ConfigError
from envctl.scenario import Scenario
from envctl.settings import Settings


def project_with(tmp_path: Path, volumes: list[str], config: str = "") -> tuple[Path, Settings]:
    """A project whose one scenario mounts ``volumes`` into a generic container."""
    project = tmp_path / "project"
    scenarios = project / "scenarios"
    scenarios.mkdir(parents=True)
    (project / "envctl.yaml").write_text(config or "scenarios_dir: scenarios\n")
    (project / "fixtures").mkdir()
    path = scenarios / "scenario_m.yaml"
    path.write_text(
        "name: m\ndependency_mode: real\nexternal_services:\n"
        "  app:\n"
        "    type: generic\n"
        "    image: busybox\n"
        f"    volumes: {volumes!r}\n"
    )
    return path, Settings.load(environ={}, cwd=project)


def plugin_built_in_code(tmp_path: Path, volumes: list[str], config: str = "") -> Any:
    """The container of a scenario that no loader checked (made with model_validate)."""
    path, settings = project_with(tmp_path, volumes, config)
    scenario = Scenario.model_validate(
        {
            "name": "m",
            "dependency_mode": "real",
            "external_services": {"app": {"type": "generic", "image": "x", "volumes": volumes}},
        }
    )
    scenario._source = path.resolve()
    scenario._root = path.parent.resolve()
    return build_plugin(scenario, "app", "r1", settings)


@pytest.mark.parametrize("volume", ["/:/host", "/etc:/etc-of-host", "../..:/up"])
def test_validate_refuses_host_paths_outside_the_project(tmp_path: Path, volume: str) -> None:
    path, settings = project_with(tmp_path, [volume])
    with pytest.raises(ConfigError) as caught:
        settings.load_scenario(path)
    assert str(caught.value).startswith(
        f"{path}:7: external_services.app.volumes[0]: volume '{volume}': host path "
    )
    assert "is outside the project" in str(caught.value)
    assert "allowed_paths:" in str(caught.value)
    allowed = tmp_path / "allowed"
    _, settings = project_with(allowed, [volume], "scenarios_dir: scenarios\nallowed_paths: [/]\n")
    assert settings.load_scenario(allowed / "project/scenarios/scenario_m.yaml").name == "m"


@pytest.mark.parametrize("volume", ["/:/host", "/etc:/etc-of-host", "../..:/up"])
def test_up_still_refuses_host_paths_outside_the_project(tmp_path: Path, volume: str) -> None:
    plugin = plugin_built_in_code(tmp_path, [volume])
    with pytest.raises(ConfigError, match="is outside the project") as caught:
        plugin.container_volumes()
    assert "allowed_paths:" in str(caught.value)


@pytest.mark.parametrize(
    "volume", ["/var/run/docker.sock:/var/run/docker.sock", "/var/run:/host-run"]
)
def test_the_docker_socket_needs_the_project_config(tmp_path: Path, volume: str) -> None:
    if not Path("/var/run/docker.sock").exists():
        pytest.skip("no Docker socket on this machine")
    path, settings = project_with(tmp_path, [volume])
    with pytest.raises(ConfigError, match=r":7: external_services\.app\.volumes\[0\]: ") as caught:
        settings.load_scenario(path)
    assert "mounts the Docker socket" in str(caught.value)
    assert "allow_docker_socket: true in envctl.yaml" in str(caught.value)
    with pytest.raises(ConfigError, match="mounts the Docker socket"):
        plugin_built_in_code(tmp_path / "in-code", [volume]).container_volumes()

    config = "scenarios_dir: scenarios\nallow_docker_socket: true\n"
    path, settings = project_with(tmp_path / "allowed", [volume], config)
    assert settings.load_scenario(path).name == "m"
    assert plugin_built_in_code(tmp_path / "allowed-in-code", [volume], config).container_volumes()


def test_paths_inside_the_project_and_named_volumes_are_fine(tmp_path: Path) -> None:
    volumes = ["../fixtures:/fixtures", "data:/data"]
    path, settings = project_with(tmp_path, volumes)
    assert settings.load_scenario(path).name == "m"
    mounts = plugin_built_in_code(tmp_path / "in-code", volumes).container_volumes()
    assert mounts == {
        str((tmp_path / "in-code" / "project" / "fixtures").resolve()): "/fixtures",
        "data": "/data",
    }
