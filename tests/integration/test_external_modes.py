"""External and cloud modes: services envctl did not start, reached by address.

envctl probes them, creates and later removes only its own resources, never starts or stops
them, and never prints a secret it was given for cloud mode.
"""

from __future__ import annotations

import socket
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import REPO, TEST_IMAGES, remove_with_volumes, run_envctl, up_json

OWN_LABEL = "envctl-test.outside=true"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def outside_kafka(docker_client: Any) -> Iterator[tuple[Any, str]]:
    """A broker started by the test itself, not by envctl (no envctl labels)."""
    port = _free_port()
    container = docker_client.containers.run(
        TEST_IMAGES["ENVCTL_IMAGE_KAFKA"],
        detach=True,
        ports={"9092/tcp": ("127.0.0.1", port)},
        environment={"ADVERTISED_LISTENER_URL": f"tcp://127.0.0.1:{port}"},
        labels={"envctl-test.outside": "true"},
    )
    try:
        yield container, f"127.0.0.1:{port}"
    finally:
        remove_with_volumes(docker_client, container)


@pytest.fixture
def outside_postgres(docker_client: Any) -> Iterator[tuple[Any, int]]:
    port = _free_port()
    container = docker_client.containers.run(
        TEST_IMAGES["ENVCTL_IMAGE_POSTGRES"],
        detach=True,
        ports={"5432/tcp": ("127.0.0.1", port)},
        environment={"POSTGRES_PASSWORD": "hunter2-very-secret"},
        labels={"envctl-test.outside": "true"},
    )
    try:
        yield container, port
    finally:
        remove_with_volumes(docker_client, container)


def _topics(servers: str) -> set[str]:
    from confluent_kafka.admin import AdminClient

    deadline = time.monotonic() + 30
    while True:
        try:
            return set(AdminClient({"bootstrap.servers": servers}).list_topics(timeout=5).topics)
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_external_kafka_is_probed_used_and_never_stopped(
    outside_kafka: tuple[Any, str], tmp_path: Path, test_env: dict[str, str], no_leaks: None
) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    import envctl
    from envctl.settings import Settings

    container, servers = outside_kafka
    before_theirs = _topics(servers)
    admin = AdminClient({"bootstrap.servers": servers})  # keep it alive for the future
    admin.create_topics([NewTopic("theirs", num_partitions=1, replication_factor=1)])[
        "theirs"
    ].result(15)
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    (scenarios / "scenario_ext.yaml").write_text(
        textwrap.dedent("""
        name: ext
        dependency_mode: real
        external_services:
          kafka:
            type: kafka
            mode: external
            topics: [ours_a, {name: ours_b, partitions: 2}]
        """)
    )
    settings = Settings.load(
        environ={**test_env, "ENVCTL_KAFKA_URL": servers}, scenarios_dir=scenarios
    )
    with envctl.up("ext", settings=settings) as env:
        assert env.services["kafka"].mode == "external"
        assert env.services["kafka"].container is None
        assert env.endpoints("kafka")["bootstrap_servers"] == servers
        created = _topics(servers) - before_theirs - {"theirs"}
        assert len(created) == 2
    assert _topics(servers) - before_theirs == {"theirs"}  # only its own topics removed
    container.reload()
    assert container.status == "running"


def test_external_without_address_says_what_to_set(
    tmp_path: Path, test_env: dict[str, str], no_leaks: None
) -> None:
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    (scenarios / "scenario_noaddr.yaml").write_text(
        "name: noaddr\nexternal_services:\n  events:\n    type: kafka\n    mode: external\n"
    )
    result = run_envctl("--scenarios-dir", str(scenarios), "up", "-s", "noaddr", env=test_env)
    assert result.returncode == 1
    assert "set url: in the scenario or ENVCTL_EVENTS_URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_cloud_secrets_never_appear_in_output_status_or_logs(
    outside_postgres: tuple[Any, int],
    tmp_path: Path,
    test_env: dict[str, str],
    no_leaks: None,
) -> None:
    _, port = outside_postgres
    secret = "hunter2-very-secret"
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    (scenarios / "scenario_cloudy.yaml").write_text(
        textwrap.dedent(f"""
        name: cloudy
        dependency_mode: real
        external_services:
          db:
            type: postgres
            mode: cloud
            url: postgresql://postgres@127.0.0.1:{port}/postgres
        timeout_profiles:
          db: {{health_check: 60}}
        """)
    )
    env = {**test_env, "ENVCTL_DB_PASSWORD": secret, "ENVCTL_DB_SSLMODE": "disable"}
    work = tmp_path / "work"
    work.mkdir()
    up = run_envctl(
        "--scenarios-dir", str(scenarios), "up", "-s", "cloudy", "--json", env=env, cwd=work
    )
    data = up_json(up)
    assert secret not in up.stdout and secret not in up.stderr
    assert data["services"]["db"]["dsn"].startswith("postgresql://postgres:***@127.0.0.1:")
    status = run_envctl("status", "--json", env=env, cwd=work)
    assert secret not in status.stdout + status.stderr
    for path in work.rglob("*"):
        if path.is_file():
            assert secret not in path.read_text(errors="replace"), path
    down = run_envctl("down", "--run-id", data["run_id"], env=env, cwd=work)
    assert secret not in down.stdout + down.stderr
    # the record of a cloud run is readable: down removes it (issue 10 §3b)
    assert down.returncode == 0, down.stderr
    assert not list(work.rglob("environment.json"))

    missing = run_envctl(
        "--scenarios-dir", str(scenarios), "up", "-s", "cloudy", env=test_env, cwd=work
    )
    assert missing.returncode == 1
    assert "mode: cloud needs ENVCTL_DB_PASSWORD in the environment" in missing.stderr


def test_cloud_refuses_a_literal_secret_in_the_file(
    tmp_path: Path, test_env: dict[str, str]
) -> None:
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    (scenarios / "scenario_leaky.yaml").write_text(
        textwrap.dedent("""
        name: leaky
        external_services:
          db:
            type: postgres
            mode: cloud
            url: postgresql://app:topsecret@db.example.com/app
        """)
    )
    result = run_envctl(
        "--scenarios-dir", str(scenarios), "validate", str(scenarios), env=test_env, cwd=REPO
    )
    assert result.returncode == 2
    assert "external_services.db: mode: cloud refuses a password in the scenario file" in (
        result.stderr
    )
    assert "topsecret" not in result.stderr
