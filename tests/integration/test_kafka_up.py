"""`envctl up --scenario kafka_real_basic` for real: clients no one here wrote talk to it."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from support import managed_resources, run_envctl, up_json


@pytest.fixture
def kafka_env(test_env: dict[str, str], docker_client: Any) -> Iterator[dict[str, Any]]:
    """The shipped kafka_real_basic scenario, up; taken down (and checked gone) afterwards."""
    result = run_envctl("up", "--scenario", "kafka_real_basic", "--json", env=test_env)
    data = up_json(result)
    try:
        yield data
    finally:
        down = run_envctl("down", "--run-id", data["run_id"], env=test_env)
        assert down.returncode == 0, down.stderr
        assert managed_resources(docker_client, data["run_id"]) == []


def test_up_json_describes_a_ready_kafka(kafka_env: dict[str, Any], docker_client: Any) -> None:
    kafka = kafka_env["services"]["kafka"]
    assert kafka_env["scenario"] == "kafka_real_basic"
    assert kafka["type"] == "kafka"
    assert kafka["status"] == "ready"
    assert kafka["bootstrap_servers"].startswith("127.0.0.1:")
    container = docker_client.containers.get(kafka["container"])
    labels = container.labels
    assert labels["io.envctl.managed"] == "true"
    assert labels["io.envctl.run-id"] == kafka_env["run_id"]
    assert labels["io.envctl.scenario"] == "kafka_real_basic"
    assert labels["io.envctl.service"] == "kafka"
    bindings = container.attrs["HostConfig"]["PortBindings"]["9092/tcp"]
    assert [b["HostIp"] for b in bindings] == ["127.0.0.1"]
    assert kafka["bootstrap_servers"] == f"127.0.0.1:{bindings[0]['HostPort']}"
    network = docker_client.networks.get(kafka_env["network"])
    assert network.attrs["Labels"]["io.envctl.run-id"] == kafka_env["run_id"]
    aliases = container.attrs["NetworkSettings"]["Networks"][kafka_env["network"]]["Aliases"]
    assert "kafka" in aliases


def test_produce_and_consume_through_printed_bootstrap_servers(
    kafka_env: dict[str, Any],
) -> None:
    from confluent_kafka import Consumer, Producer, TopicPartition

    servers = kafka_env["services"]["kafka"]["bootstrap_servers"]
    orders = kafka_env["services"]["kafka"]["topics"]["orders"]  # the run's physical name
    producer = Producer({"bootstrap.servers": servers, "enable.idempotence": True})
    delivered: list[Any] = []
    payload = f"order-{uuid.uuid4()}".encode()
    producer.produce(
        orders,
        key=b"1",
        value=payload,
        partition=1,
        on_delivery=lambda err, msg: delivered.append((err, msg)),
    )
    assert producer.flush(15) == 0
    assert len(delivered) == 1 and delivered[0][0] is None

    consumer = Consumer(
        {"bootstrap.servers": servers, "group.id": "envctl-test", "enable.auto.commit": False}
    )
    try:
        consumer.assign([TopicPartition(orders, 1, 0)])
        message = None
        for _ in range(50):
            message = consumer.poll(0.5)
            if message is not None and message.error() is None:
                break
        assert message is not None and message.error() is None
        assert message.value() == payload
        assert message.key() == b"1"
    finally:
        consumer.close()


def test_topics_exist_with_partitions_and_config(
    kafka_env: dict[str, Any], kcat_env: dict[str, str]
) -> None:
    servers = kafka_env["services"]["kafka"]["bootstrap_servers"]
    listing = subprocess.run(
        ["kcat", "-b", servers, "-L", "-J"],
        env=kcat_env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert listing.returncode == 0, listing.stderr
    topics = {t["topic"]: len(t["partitions"]) for t in json.loads(listing.stdout)["topics"]}
    physical = kafka_env["services"]["kafka"]["topics"]
    run_id = kafka_env["run_id"]
    assert physical == {
        "orders": f"envctl.{run_id}.orders",
        "orders.dlq": f"envctl.{run_id}.orders.dlq",
    }
    assert topics[physical["orders"]] == 3
    assert topics[physical["orders.dlq"]] == 1


def test_status_lists_the_run_and_down_is_idempotent(
    test_env: dict[str, str], docker_client: Any
) -> None:
    data = up_json(run_envctl("up", "--scenario", "kafka_real_basic", "--json", env=test_env))
    run_id = data["run_id"]
    try:
        status = run_envctl("status", "--json", env=test_env)
        assert status.returncode == 0, status.stderr
        runs = {r["run_id"]: r for r in json.loads(status.stdout)["environments"]}
        assert runs[run_id]["scenario"] == "kafka_real_basic"
        service = runs[run_id]["services"]["kafka"]
        assert service["status"] == "running"
        assert (
            service["endpoints"]["bootstrap_servers"]
            == (data["services"]["kafka"]["bootstrap_servers"])
        )
    finally:
        first = run_envctl("down", "--run-id", run_id, env=test_env)
        second = run_envctl("down", "--run-id", run_id, env=test_env)
    assert first.returncode == 0, first.stderr
    assert "removed 1 containers, 1 networks" in first.stdout
    assert second.returncode == 0
    assert second.stdout.strip() == "nothing to remove"
    assert managed_resources(docker_client, run_id) == []


def test_restart_keeps_the_published_port(kafka_env: dict[str, Any], docker_client: Any) -> None:
    from confluent_kafka.admin import AdminClient

    kafka = kafka_env["services"]["kafka"]
    container = docker_client.containers.get(kafka["container"])
    container.restart(timeout=5)
    container.reload()
    host_port = container.attrs["HostConfig"]["PortBindings"]["9092/tcp"][0]["HostPort"]
    assert kafka["bootstrap_servers"] == f"127.0.0.1:{host_port}"
    admin = AdminClient({"bootstrap.servers": kafka["bootstrap_servers"]})
    assert admin.list_topics(timeout=20).brokers


def test_library_context_manager_removes_everything(
    test_env: dict[str, str], docker_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import envctl
    from envctl.settings import Settings

    settings = Settings.load(environ=test_env)
    with envctl.up("kafka_real_basic", settings=settings) as env:
        run_id = env.run_id
        assert env.services["kafka"].status == "ready"
        assert env.endpoints("kafka")["bootstrap_servers"].startswith("127.0.0.1:")
        assert managed_resources(docker_client, run_id)
    assert managed_resources(docker_client, run_id) == []


def test_a_udp_port_beside_the_client_port_leaves_kafka_reachable(
    tmp_path: Any, test_env: dict[str, str], docker_client: Any, no_leaks: None
) -> None:
    """Issue 10 §3b: `ports: ["9092/udp"]` replaced the TCP client port; readiness failed."""
    scenarios = tmp_path / "s"
    scenarios.mkdir()
    (scenarios / "scenario_udp.yaml").write_text(
        "name: udp\ndependency_mode: real\n"
        'external_services:\n  kafka: {type: kafka, ports: ["9092/udp"]}\n'
        "timeout_profiles:\n  kafka: {health_check: 30}\n"
    )
    data = up_json(
        run_envctl("--scenarios-dir", str(scenarios), "up", "-s", "udp", "--json", env=test_env)
    )
    try:
        container = docker_client.containers.get(data["services"]["kafka"]["container"])
        published = container.attrs["HostConfig"]["PortBindings"]
        assert {"9092/tcp", "9092/udp"} <= set(published)
        tcp_port = published["9092/tcp"][0]["HostPort"]
        assert data["services"]["kafka"]["bootstrap_servers"] == f"127.0.0.1:{tcp_port}"
    finally:
        run_envctl("down", "--run-id", data["run_id"], env=test_env)
