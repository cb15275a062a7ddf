"""envctl attached to services started the way GitHub Actions starts job services.

The test generates a workflow with ``envctl ci github --strategy services``, then does what
the Actions runner does with the job's ``services:``: creates a network, starts each image
with the job's environment, its fixed ``127.0.0.1`` ports and the ``--health-*`` options
(parsed from ``options:`` into the docker SDK), with this test's own labels, and waits for
"healthy". Then it runs ``envctl up`` with the job's ``env:`` — ``ENVCTL_<SERVICE>_URL`` and
the scenario turned external by the built-in ``external`` profile — and checks that envctl
probes each service for real, creates its topic and database there, and never stops,
restarts or removes the containers. Everything the test started is removed in ``finally``,
found by its labels.
"""

from __future__ import annotations

import json
import shlex
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from support import TEST_IMAGES, managed_resources, remove_with_volumes, run_envctl, up_json

from envctl.profiles import apply_profile

pytestmark = pytest.mark.docker

TEST_LABEL = "envctl-test.actions-style"
HEALTHY_WITHIN = 90.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def scenario_text(name: str, ports: dict[str, int]) -> str:
    return f"""
name: {name}
dependency_mode: real
external_services:
  kafka:
    type: kafka
    ports: ["{ports["kafka"]}:9092"]
    topics: [{{name: orders, partitions: 2}}]
  postgres:
    type: postgres
    database: shop
    ports: ["{ports["postgres"]}:5432"]
  redis:
    type: redis
    ports: ["{ports["redis"]}:6379"]
timeout_profiles:
  kafka: {{health_check: 30}}
  postgres: {{health_check: 30}}
  redis: {{health_check: 30}}
"""


def health_from_options(options: str) -> dict[str, Any]:
    """`--health-cmd "..." --health-interval 2s ...` as the docker SDK's healthcheck."""
    words = shlex.split(options)
    values = dict(zip(words[::2], words[1::2], strict=True))
    ns = 1_000_000_000

    def seconds(key: str) -> int:
        text = values[key]
        assert text.endswith("s") and not text.endswith("ms"), text
        return int(float(text[:-1]) * ns)

    return {
        "test": ["CMD-SHELL", values["--health-cmd"]],
        "interval": seconds("--health-interval"),
        "timeout": seconds("--health-timeout"),
        "retries": int(values["--health-retries"]),
        "start_period": seconds("--health-start-period"),
    }


def port_bindings(ports: list[str]) -> dict[str, tuple[str, int]]:
    bindings = {}
    for port in ports:
        address, host, container = port.split(":")
        bindings[f"{container}/tcp"] = (address, int(host))
    return bindings


@pytest.fixture
def job_services(docker_client: Any) -> Iterator[Any]:
    """Start a job's services like the Actions runner; remove them afterwards."""
    run = uuid.uuid4().hex[:10]
    labels = {TEST_LABEL: run}
    started: list[Any] = []
    network: list[Any] = []

    def start(services: dict[str, Any]) -> dict[str, Any]:
        net = docker_client.networks.create(f"actions-style-{run}", labels=labels)
        network.append(net)
        containers = {}
        for name, service in services.items():
            options = service.get("options")
            container = docker_client.containers.create(
                service["image"],
                name=f"actions-style-{name}-{run}",
                labels=labels,
                environment=service.get("env", {}),
                ports=port_bindings(service["ports"]),
                healthcheck=health_from_options(options) if options else None,
            )
            started.append(container)
            net.connect(container, aliases=[name])
            container.start()
            containers[name] = container
        deadline = time.monotonic() + HEALTHY_WITHIN
        for name, container in containers.items():
            while True:
                container.reload()
                state = container.attrs["State"]
                health = state.get("Health", {}).get("Status")
                if health in (None, "healthy") and state["Status"] == "running":
                    break
                assert health != "unhealthy", f"{name} is unhealthy: {state['Health']}"
                assert time.monotonic() < deadline, f"{name} not healthy: {state}"
                time.sleep(0.2)
        return containers

    try:
        yield start
    finally:
        for container in started:
            remove_with_volumes(docker_client, container)
        for net in network:
            net.remove()
        left = docker_client.containers.list(all=True, filters={"label": f"{TEST_LABEL}={run}"})
        assert left == [], f"left behind: {[c.name for c in left]}"


def test_envctl_attaches_to_job_services_and_never_stops_them(
    tmp_path: Path,
    test_env: dict[str, str],
    docker_client: Any,
    job_services: Any,
    no_leaks: None,
) -> None:
    name = f"actions_style_{uuid.uuid4().hex[:8]}"
    ports = {service: free_port() for service in ("kafka", "postgres", "redis")}
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    (scenarios / f"scenario_{name}.yaml").write_text(scenario_text(name, ports))

    # The workflow, as a project would generate it (images overridden like the suite's).
    workflow_file = tmp_path / "ci.yml"
    generated = run_envctl(
        "--scenarios-dir", str(scenarios), "ci", "github", "--scenario", name,
        "--strategy", "services", "-o", str(workflow_file),
        env=test_env, cwd=tmp_path,
    )  # fmt: skip
    assert generated.returncode == 0, generated.stderr
    job = yaml.safe_load(workflow_file.read_text())["jobs"][f"integration-{name}"]
    assert job["services"]["postgres"]["image"] == TEST_IMAGES["ENVCTL_IMAGE_POSTGRES"]
    assert job["env"]["ENVCTL_PROFILE"] == "external"

    containers = job_services(job["services"])
    before = {n: (c.id, c.attrs["State"]["StartedAt"]) for n, c in containers.items()}

    # The job's steps: envctl with the job's env. The loader does not apply ENVCTL_PROFILE
    # yet, so the built-in `external` profile is applied here, to the file envctl reads.
    env = {**test_env, **{k: str(v) for k, v in job["env"].items() if k != "ENVCTL_PROFILE"}}
    raw = yaml.safe_load((scenarios / f"scenario_{name}.yaml").read_text())
    external = apply_profile(raw, job["env"]["ENVCTL_PROFILE"], {}, env)
    assert {s["mode"] for s in external["external_services"].values()} == {"external"}
    external_file = tmp_path / "external" / f"scenario_{name}.yaml"
    external_file.parent.mkdir()
    external_file.write_text(yaml.safe_dump(external))

    up = run_envctl("up", "--scenario", str(external_file), "--json", env=env, cwd=tmp_path)
    data = up_json(up)
    run_id = data["run_id"]
    try:
        services = data["services"]
        assert {n: (s["mode"], s["status"]) for n, s in services.items()} == {
            "kafka": ("external", "ready"),
            "postgres": ("external", "ready"),
            "redis": ("external", "ready"),
        }
        assert all(s["container"] is None for s in services.values())
        assert services["kafka"]["bootstrap_servers"] == f"127.0.0.1:{ports['kafka']}"
        assert services["redis"]["url"] == f"redis://127.0.0.1:{ports['redis']}/0"
        assert services["postgres"]["port"] == ports["postgres"]
        assert managed_resources(docker_client, run_id) == []  # nothing of envctl's in Docker

        # envctl really talked to them: its topic exists on the job's broker ...
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": services["kafka"]["bootstrap_servers"]})
        topics = admin.list_topics(timeout=10).topics
        created = [t for t in topics if t.endswith(".orders") and run_id in t]
        assert created, f"no topic of run {run_id} in {sorted(topics)}"
        assert len(topics[created[0]].partitions) == 2
        # ... and its database on the job's Postgres.
        import psycopg

        dsn = services["postgres"]["dsn"]  # printed with the password masked
        assert ":***@" in dsn
        real = dsn.replace(":***@", ":envctl@")
        with psycopg.connect(real, connect_timeout=5) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == (
                services["postgres"]["database"],
            )
    finally:
        down = run_envctl("down", "--run-id", run_id, env=env, cwd=tmp_path)
        assert down.returncode == 0, down.stderr

    # Never stopped, restarted or replaced.
    for service_name, container in containers.items():
        container.reload()
        assert container.status == "running", service_name
        assert (container.id, container.attrs["State"]["StartedAt"]) == before[service_name]
        assert container.attrs["RestartCount"] == 0


def test_envctl_probes_the_real_protocol_of_an_external_service(
    tmp_path: Path,
    test_env: dict[str, str],
    job_services: Any,
    no_leaks: None,
) -> None:
    """A wrong password: the port answers, the protocol does not — envctl says not ready."""
    port = free_port()
    containers = job_services(
        {
            "postgres": {
                "image": TEST_IMAGES["ENVCTL_IMAGE_POSTGRES"],
                "env": {"POSTGRES_PASSWORD": "right", "POSTGRES_DB": "shop"},
                "ports": [f"127.0.0.1:{port}:5432"],
                "options": '--health-cmd "pg_isready -h 127.0.0.1 -U postgres -d shop" '
                "--health-interval 1s --health-timeout 5s --health-retries 30 "
                "--health-start-period 30s",
            }
        }
    )
    scenario = tmp_path / "scenario_wrong_password.yaml"
    scenario.write_text(
        "name: wrong_password\n"
        "dependency_mode: real\n"
        "external_services:\n"
        "  postgres: {type: postgres, mode: external}\n"
        "timeout_profiles:\n"
        "  postgres: {health_check: 120}\n"
    )
    env = {**test_env, "ENVCTL_POSTGRES_URL": f"postgresql://postgres:wrong@127.0.0.1:{port}/shop"}
    up = run_envctl("up", "--scenario", str(scenario), "--json", env=env, cwd=tmp_path)
    assert up.returncode == 1, up.stdout + up.stderr
    assert "service 'postgres' was not ready" in up.stderr
    # issue 10 §4: a refused login cannot heal; the wait ends at once, saying so
    assert "waiting cannot help" in up.stderr
    assert "password authentication failed" in up.stderr
    assert "password authentication failed" in up.stderr
    assert "***" in up.stderr or "wrong@" not in up.stderr  # the password is not printed
    failed = json.loads(up.stdout)
    assert failed["services"]["postgres"]["status"] == "failed"
    containers["postgres"].reload()
    assert containers["postgres"].status == "running"
