"""Containers get only what the scenario is allowed to give them (issue 10 §3c)."""

from __future__ import annotations

from pathlib import Path

import pytest

from envctl.environment import build_plugin
from envctl.errors import ConfigError
from envctl.scenario import load_scenario
from envctl.settings import Settings


def plugin_for_volumes(tmp_path: Path, volumes: list[str], config: str = "") -> object:
    project = tmp_path / "project"
    scenarios = project / "scenarios"
    scenarios.mkdir(parents=True)
    (project / "envctl.yaml").write_text(config or "scenarios_dir: scenarios\n")
    (project / "fixtures").mkdir()
    path = scenarios / "scenario_m.yaml"
    path.write_text(
        "name: m\ndependency_mode: real\nexternal_services:\n"
        f"  app: {{type: generic, image: busybox, volumes: {volumes!r}}}\n"
    )
    settings = Settings.load(environ={}, cwd=project)
    scenario = load_scenario(path)
    return build_plugin(scenario, "app", "r1", settings)


@pytest.mark.parametrize("volume", ["/:/host", "/etc:/etc-of-host", "../..:/up"])
def test_host_paths_outside_the_project_are_refused(tmp_path: Path, volume: str) -> None:
    plugin = plugin_for_volumes(tmp_path, [volume])
    with pytest.raises(ConfigError, match="is outside the project") as caught:
        plugin.container_volumes()  # type: ignore[attr-defined]
    assert "allowed_paths:" in str(caught.value)


@pytest.mark.parametrize(
    "volume", ["/var/run/docker.sock:/var/run/docker.sock", "/var/run:/host-run"]
)
def test_the_docker_socket_needs_the_project_config(tmp_path: Path, volume: str) -> None:
    if not Path("/var/run/docker.sock").exists():
        pytest.skip("no Docker socket on this machine")
    plugin = plugin_for_volumes(tmp_path, [volume])
    with pytest.raises(ConfigError, match="mounts the Docker socket") as caught:
        plugin.container_volumes()  # type: ignore[attr-defined]
    assert "allow_docker_socket: true in envctl.yaml" in str(caught.value)
    allowed = plugin_for_volumes(
        tmp_path / "allowed", [volume], "scenarios_dir: scenarios\nallow_docker_socket: true\n"
    )
    assert allowed.container_volumes()  # type: ignore[attr-defined]


def test_paths_inside_the_project_and_named_volumes_are_fine(tmp_path: Path) -> None:
    plugin = plugin_for_volumes(tmp_path, ["../fixtures:/fixtures", "data:/data"])
    mounts = plugin.container_volumes()  # type: ignore[attr-defined]
    assert mounts == {
        str((tmp_path / "project" / "fixtures").resolve()): "/fixtures",
        "data": "/data",
    }
