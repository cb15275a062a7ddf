"""A scenario's `compose:` source: nothing of the compose file is dropped silently, and its
bind mounts follow the project's policy (issue 10 §3c), at `envctl validate` as at `up`."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from envctl.cli import main
from envctl.errors import ConfigError

SCENARIO = """\
name: from_compose
dependency_mode: real
compose:
  file: ../docker-compose.yml
"""

REFUSED = """\
services:
  app:
    image: example/app:1
    privileged: true
    cap_add: [NET_ADMIN]
    network_mode: host
    pid: host
    ipc: host
    devices: ["/dev/kvm:/dev/kvm"]
    security_opt: ["seccomp:unconfined"]
    userns_mode: host
    volumes_from: [other]
    user: "1000"
"""
"""Each refused key on its own line: key -> line."""
REFUSED_LINES = {
    "privileged": 4,
    "cap_add": 5,
    "network_mode": 6,
    "pid": 7,
    "ipc": 8,
    "devices": 9,
    "security_opt": 10,
    "userns_mode": 11,
    "volumes_from": 12,
    "user": 13,
}

IGNORED = """\
services:
  app:
    image: example/app:1
    container_name: app-1
    restart: always
    logging: {driver: json-file}
    network_mode: bridge
    privileged: false
    x-team: payments
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project (the working directory) with envctl.yaml and one scenario file that takes
    its services from ./docker-compose.yml."""
    (tmp_path / "envctl.yaml").write_text("scenarios_dir: scenarios\n")
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "scenario_from_compose.yaml").write_text(SCENARIO)
    (tmp_path / "data").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def envctl(*args: str) -> int:
    with pytest.raises(SystemExit) as info:
        main(list(args))
    return int(info.value.code or 0)


def write(project: Path, compose: str, scenario: str = SCENARIO) -> None:
    (project / "docker-compose.yml").write_text(compose)
    (project / "scenarios" / "scenario_from_compose.yaml").write_text(scenario)


def test_the_table_splits_security_relevant_keys_from_harmless_ones() -> None:
    from envctl.scenario.compose import DROPPED_KEYS

    for key in REFUSED_LINES:
        value = "host" if key in ("network_mode", "pid", "ipc", "userns_mode") else True
        assert DROPPED_KEYS[key].refuses(value), key
    for key in ("container_name", "restart", "logging", "labels", "networks"):
        assert not DROPPED_KEYS[key].refuses("anything"), key
    assert not DROPPED_KEYS["network_mode"].refuses("bridge")
    assert DROPPED_KEYS["network_mode"].refuses("service:vpn")
    assert not DROPPED_KEYS["privileged"].refuses(False)


@pytest.mark.parametrize("command", ["validate", "up"])
def test_security_relevant_keys_are_errors_with_file_and_line(
    project: Path, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    write(project, REFUSED)
    args = ["validate"] if command == "validate" else ["up", "-s", "from_compose"]
    assert envctl(*args) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    for key, line in REFUSED_LINES.items():
        expected = f"docker-compose.yml:{line}: services.app.{key}: not supported by envctl ("
        assert expected in err, f"{expected!r} not in:\n{err}"
    assert "add it to the scenario's compose.drop to run the service without it" in err
    if command == "up":
        assert err.startswith("envctl: error: docker-compose.yml:4: services.app.privileged: ")


def test_harmless_keys_are_one_warning_each_and_the_file_is_valid(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(project, IGNORED)
    assert envctl("validate") == 0
    err = capsys.readouterr().err
    warnings = [line for line in err.splitlines() if line.startswith("envctl: warning: ")]
    assert [w.split(": ")[2:4] for w in warnings] == [
        ["docker-compose.yml:4", "services.app.container_name"],
        ["docker-compose.yml:5", "services.app.restart"],
        ["docker-compose.yml:6", "services.app.logging"],
        ["docker-compose.yml:7", "services.app.network_mode"],
        ["docker-compose.yml:8", "services.app.privileged"],
    ]
    assert all(": ignored by envctl (" in w for w in warnings)
    assert "x-team" not in err  # compose's own extension keys are comments


def test_compose_drop_runs_the_service_without_the_keys_it_names(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = ", ".join(REFUSED_LINES)
    write(project, REFUSED + "    restart: always\n", SCENARIO + f"  drop: [{keys}, restart]\n")
    assert envctl("validate") == 0
    err = capsys.readouterr().err
    assert "warning" not in err
    write(project, REFUSED, SCENARIO + "  drop: [privileged, image]\n")
    assert envctl("validate") == 2
    err = capsys.readouterr().err
    assert (
        "scenarios/scenario_from_compose.yaml:5: compose.drop[1]: 'image' is a key envctl "
        "translates or cannot do without; it cannot be dropped"
    ) in err


def test_validate_refuses_compose_bind_mounts_outside_the_project(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    compose = """\
        services:
          app:
            image: example/app:1
            volumes:
              - ./data:/data
              - /etc:/host-etc
              - type: bind
                source: /
                target: /host
        """
    write(project, textwrap.dedent(compose))
    assert envctl("validate") == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith(
        "docker-compose.yml:6: services.app.volumes[1]: volume '/etc:/host-etc': host path /etc "
        "is outside the project ("
    )
    assert err[1].startswith(
        "docker-compose.yml:7: services.app.volumes[2]: volume '/:/host': host path / is outside"
    )
    (project / "envctl.yaml").write_text("scenarios_dir: scenarios\nallowed_paths: [/]\n")
    assert envctl("validate") == 0


def test_validate_refuses_a_mount_that_an_env_variable_points_outside(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = """\
        name: from_compose
        dependency_mode: real
        external_services:
          app:
            type: generic
            image: example/app:1
            volumes: ["${VOL}:/data"]
        """
    write(project, "services: {}\n", textwrap.dedent(scenario))
    monkeypatch.setenv("VOL", "./data")
    assert envctl("validate") == 0
    capsys.readouterr()
    monkeypatch.setenv("VOL", "/")
    assert envctl("validate") == 2
    err = capsys.readouterr().err
    assert err.startswith(
        "scenarios/scenario_from_compose.yaml:7: external_services.app.volumes[0]: "
        "volume '/:/data': host path / is outside the project ("
    )


def test_validate_refuses_the_docker_socket_unless_the_project_config_allows_it(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    compose = """\
        services:
          app:
            image: example/app:1
            volumes: ["/var/run/docker.sock:/var/run/docker.sock"]
        """
    write(project, textwrap.dedent(compose))
    assert envctl("validate") == 2
    err = capsys.readouterr().err
    assert err.startswith("docker-compose.yml:4: services.app.volumes[0]: volume ")
    assert "mounts the Docker socket" in err
    assert "allow_docker_socket: true in envctl.yaml" in err
    (project / "envctl.yaml").write_text("scenarios_dir: scenarios\nallow_docker_socket: true\n")
    assert envctl("validate") == 0


def test_compose_import_warns_about_refused_keys_and_leaves_them_out(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "docker-compose.yml").write_text(REFUSED + "    restart: always\n")
    assert envctl("compose", "import", "docker-compose.yml") == 0
    captured = capsys.readouterr()
    assert (
        "envctl: warning: docker-compose.yml:4: services.app.privileged: not supported by envctl"
    ) in captured.err
    assert "envctl: note: docker-compose.yml:14: services.app.restart: ignored by envctl" in (
        captured.err
    )
    assert "privileged" not in captured.out


def test_the_loader_keeps_warnings_on_the_scenario(project: Path) -> None:
    from envctl.settings import Settings

    write(project, IGNORED)
    settings = Settings.load(environ={}, cwd=project)
    scenario = settings.load_scenario("scenarios/scenario_from_compose.yaml")
    assert [w.path for w in scenario.warnings][:2] == [
        "services.app.container_name",
        "services.app.restart",
    ]
    write(project, REFUSED)
    with pytest.raises(ConfigError, match=r"services\.app\.privileged: not supported"):
        settings.load_scenario("scenarios/scenario_from_compose.yaml")


def test_docs_list_every_key_the_table_refuses_or_cannot_honour() -> None:
    from envctl.scenario.compose import _UNSUPPORTED, DROPPED_KEYS

    docs = (Path(__file__).resolve().parents[3] / "docs" / "compose.md").read_text()
    section = docs[docs.index("### What envctl leaves out") :]
    refused = [k for k, entry in DROPPED_KEYS.items() if entry.refused_when is not None]
    missing = [k for k in [*refused, *_UNSUPPORTED] if f"`{k}" not in section]
    assert missing == []


def test_run_and_run_all_print_the_warnings_with_the_result(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    compose = "services:\n  cache:\n    image: redis:7\n    container_name: my-redis\n"
    write(project, compose, SCENARIO.replace("dependency_mode: real", "dependency_mode: mock"))
    expected = "docker-compose.yml:4: services.cache.container_name: ignored by envctl ("
    assert envctl("run", "-s", "from_compose") == 0
    err = capsys.readouterr().err
    assert err.count(expected) == 1, err
    assert envctl("run-all") == 0
    assert capsys.readouterr().err.count(expected) == 1
