"""The example fault scenarios, run for real and against mocks, and no_message_lost across
broker faults on the local Kafka-compatible broker."""

from __future__ import annotations

import json
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest
from support import REPO, managed_resources, run_envctl

pytestmark = pytest.mark.docker


def run_json(args: list[str], env: dict[str, str]) -> tuple[int, dict[str, Any]]:
    result = run_envctl(*args, "--json", env=env, timeout=600)
    try:
        data = json.loads(result.stdout)
    except json.JSONDecodeError:
        raise AssertionError(result.stdout + result.stderr) from None
    return result.returncode, data


@pytest.mark.parametrize("name", ["faults_redis_latency", "faults_paused_postgres"])
@pytest.mark.parametrize("mode", ["real", "mock"])
def test_example_scenarios_pass(
    name: str, mode: str, tmp_path: Path, test_env: dict[str, str], docker_client: Any
) -> None:
    test_env["ENVCTL_STATE_DIR"] = str(tmp_path / "state")
    code, data = run_json(
        ["--scenarios-dir", str(REPO / "scenarios"), "run", "-s", name,
         "--force-dependency-mode", mode],
        test_env,
    )  # fmt: skip
    assert code == 0 and data["status"] == "passed", data.get("reason")
    events = [
        json.loads(line)
        for line in (tmp_path / "state" / "runs" / data["run_id"] / "audit.jsonl")
        .read_text()
        .splitlines()
    ]
    starts = [e for e in events if e["event"] == "fault.start"]
    ends = [e for e in events if e["event"] == "fault.end"]
    assert len(starts) == len(ends) == 1
    if mode == "mock":
        assert starts[0]["simulated"] in ("latency", "unavailable")
    if name == "faults_paused_postgres":
        consumer = next(s for s in data["steps"] if s.get("id") == "consumer")
        assert consumer["outputs"]["failures"] >= 1 and consumer["outputs"]["stored"] == 5
    assert managed_resources(docker_client, data["run_id"]) == []


BROKER = """
name: {name}
dependency_mode: real
external_services:
  kafka:
    type: kafka
    topics: [{{name: orders, partitions: 2}}]
timeout_profiles:
  kafka: {{publish_ack: 30}}
steps:
  - publish: {{topic: orders, key: "1", value: {{id: 1}}}}
  - publish: {{topic: orders, key: "2", value: {{id: 2}}}}
  - publish: {{id: during, topic: orders, key: "3", value: {{id: 3}}}}
  - expect_recovery: {{id: back, service: kafka, within: 60s}}
  - publish: {{topic: orders, key: "4", value: {{id: 4}}}}
  - no_message_lost: {{topic: orders, within: 20s}}
faults:
  - {{kind: {kind}, service: kafka, at: {{step: during}}, duration: 2s}}
"""


def write(tmp_path: Path, kind: str) -> tuple[Path, str]:
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    name = f"broker_{kind}_{uuid.uuid4().hex[:6]}"
    text = textwrap.dedent(BROKER.format(name=name, kind=kind))
    (scenarios / f"scenario_{name}.yaml").write_text(text)
    return scenarios, name


def test_no_message_lost_across_a_broker_pause(
    tmp_path: Path, test_env: dict[str, str], docker_client: Any
) -> None:
    scenarios, name = write(tmp_path, "pause")
    test_env["ENVCTL_STATE_DIR"] = str(tmp_path / "state")
    code, data = run_json(["--scenarios-dir", str(scenarios), "run", "-s", name], test_env)
    assert code == 0 and data["status"] == "passed", data.get("reason")
    check = data["steps"][-1]
    assert check["outputs"] == {"read": 4, "published": 4, "lost": 0, "duplicated": 0}
    assert managed_resources(docker_client, data["run_id"]) == []


def test_no_message_lost_reports_what_a_memory_broker_loses_on_stop(
    tmp_path: Path, test_env: dict[str, str], docker_client: Any
) -> None:
    """Tansu with memory storage starts empty after a stop: the check must say so."""
    scenarios, name = write(tmp_path, "stop")
    test_env["ENVCTL_STATE_DIR"] = str(tmp_path / "state")
    code, data = run_json(["--scenarios-dir", str(scenarios), "run", "-s", name], test_env)
    assert code == 1 and data["status"] == "failed"
    failed = next(s for s in data["steps"] if s["status"] == "failed")
    assert failed["kind"] in ("publish", "no_message_lost"), failed
    if failed["kind"] == "no_message_lost":
        assert "lost" in failed["error"], failed["error"]
    assert managed_resources(docker_client, data["run_id"]) == []


def test_a_restart_that_needs_durable_storage_skips_on_a_memory_broker(
    tmp_path: Path, test_env: dict[str, str], docker_client: Any
) -> None:
    # faults_broker_restart checks no_message_lost across a broker restart: on the local
    # tansu image (memory storage) that cannot hold, so it is skipped with the reason
    # instead of failing; on apache/kafka it runs.
    test_env["ENVCTL_STATE_DIR"] = str(tmp_path / "state")
    code, data = run_json(
        ["--scenarios-dir", str(REPO / "scenarios"), "run", "-s", "faults_broker_restart"],
        test_env,
    )
    assert code == 0 and data["status"] == "skipped", data
    assert "needs_durable_storage" in data["reason"] and "memory" in data["reason"]
    assert managed_resources(docker_client, data["run_id"]) == []
