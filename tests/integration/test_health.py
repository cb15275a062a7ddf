"""`envctl health`: a pre-flight check that starts nothing."""

from __future__ import annotations

import json
import socket
import textwrap
from pathlib import Path
from typing import Any

from support import managed_resources, run_envctl, up_json


def test_health_of_docker_services_and_of_a_running_environment(
    test_env: dict[str, str], docker_client: Any, no_leaks: None
) -> None:
    before = run_envctl("health", "-s", "kafka_real_basic", "--json", env=test_env)
    assert before.returncode == 0, before.stderr
    kafka = json.loads(before.stdout)["services"][0]
    assert kafka["available"] is True
    assert "image present locally" in kafka["check"]
    assert managed_resources(docker_client) == []  # nothing was started

    data = up_json(run_envctl("up", "-s", "kafka_real_basic", "--json", env=test_env))
    try:
        running = run_envctl("health", "-s", "kafka_real_basic", "--json", env=test_env)
        kafka = json.loads(running.stdout)["services"][0]
        assert kafka["available"] is True
        assert f"running run {data['run_id']}" in kafka["check"]
        assert 0 < kafka["latency_ms"] < 5000
    finally:
        run_envctl("down", "--run-id", data["run_id"], env=test_env)


def test_health_fails_for_unreachable_required_and_tolerates_optional(
    tmp_path: Path, test_env: dict[str, str]
) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        dead = sock.getsockname()[1]
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    (scenarios / "scenario_pre.yaml").write_text(
        textwrap.dedent(f"""
        name: pre
        external_services:
          cache:
            type: redis
            mode: external
            url: redis://127.0.0.1:{dead}/0
            required: false
          missing:
            type: kafka
            image: envctl-test/not-there:1
        timeout_profiles:
          cache: {{health_check: 1}}
        """)
    )
    env = {k: v for k, v in test_env.items() if k != "ENVCTL_IMAGE_KAFKA"}
    env["ENVCTL_RUNTIME"] = "docker"  # auto would stand in a native broker for the missing image
    result = run_envctl("--scenarios-dir", str(scenarios), "health", "-s", "pre", "--json", env=env)
    assert result.returncode == 1
    services = {s["service"]: s for s in json.loads(result.stdout)["services"]}
    assert services["cache"]["available"] is False
    assert services["cache"]["required"] is False
    assert "PING" in services["cache"]["error"] or "redis" in services["cache"]["error"].lower()
    assert services["missing"]["available"] is False
    assert "envctl-test/not-there:1" in services["missing"]["check"]
    assert "ENVCTL_IMAGE_KAFKA" in services["missing"]["error"]
