"""A paused broker is reported within the scenario's timeouts, and an aborted run stops
talking to it at once (issue 10 §3b: Kafka faults took ~35 s to surface; Ctrl-C during a seed
against a paused broker took 122 s).

The bounds under test are far below what a wait on librdkafka's own timeouts would take
(the admin and seed timeouts here are 600 s): a thread still blocked after a minute is the
hang these tests catch, not a speed target (figures: scripts/bench_faults.py).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from support import REPO, SESSION_LABEL, TEST_IMAGES, managed_resources, run_envctl, up_json

from envctl.environment import build_plugin
from envctl.errors import ServiceFailed
from envctl.scenario.loader import load_scenario
from envctl.services.base import ServiceHandle
from envctl.services.kafka.tool import KafkaEventBus
from envctl.tools.errors import ConsumeFailed, PublishTimeout, RequiresRegistryWarning

pytestmark = pytest.mark.docker

HANG = 60.0
"""Seconds after which a call against the paused broker counts as hung (its own timeout is
600 s): far above the bound it must keep."""

SCENARIO = """
name: {name}
dependency_mode: real
external_services:
  kafka:
    type: kafka
    topics: [{{name: orders, partitions: 1}}]
    seed: [{{topic: orders, from: orders.jsonl}}]
timeout_profiles:
  kafka: {{publish_ack: 2, seed: {seed}}}
"""


def write_scenario(folder: Path, seed_timeout: float, records: int = 10) -> tuple[Path, str]:
    folder.mkdir(parents=True, exist_ok=True)
    name = f"kfault_{uuid.uuid4().hex[:8]}"
    path = folder / f"scenario_{name}.yaml"
    path.write_text(textwrap.dedent(SCENARIO.format(name=name, seed=seed_timeout)))
    lines = (
        json.dumps({"key": str(i), "value": {"id": i, "pad": "x" * 100}}) for i in range(records)
    )
    (folder / "orders.jsonl").write_text("\n".join(lines) + "\n")
    return path, name


def environment(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENVCTL_")}
    env.update(TEST_IMAGES)
    env["ENVCTL_LABELS"] = SESSION_LABEL
    env["ENVCTL_STATE_DIR"] = str(tmp / "state")
    return env


class Broker:
    def __init__(self, data: dict[str, Any], path: Path, container: Any) -> None:
        self.servers = str(data["services"]["kafka"]["bootstrap_servers"])
        self.topic = str(data["services"]["kafka"]["topics"]["orders"])
        self.path = path
        self.container = container

    @contextmanager
    def paused(self) -> Iterator[None]:
        self.container.pause()
        try:
            yield
        finally:
            self.container.unpause()


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory, docker_client: Any) -> Iterator[Broker]:
    folder = tmp_path_factory.mktemp("kafka_faults")
    env = environment(folder)
    path, name = write_scenario(folder / "scenarios", seed_timeout=60)
    data = up_json(
        run_envctl("--scenarios-dir", str(path.parent), "up", "-s", name, "--json", env=env)
    )
    try:
        container = docker_client.containers.get(data["services"]["kafka"]["container"])
        yield Broker(data, path, container)
    finally:
        down = run_envctl("down", "--run-id", data["run_id"], env=env)
        assert down.returncode == 0, down.stderr
        assert managed_resources(docker_client, data["run_id"]) == []


def outcome_in_thread(
    call: Callable[[], Any], before_join: Callable[[], None] | None = None
) -> Any:
    """What ``call`` returned or raised, run in a thread; fails when it is still blocked after
    :data:`HANG` seconds."""
    result: list[Any] = []

    def run() -> None:
        try:
            result.append(call())
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            result.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    if before_join is not None:
        before_join()
    thread.join(HANG)
    assert not thread.is_alive(), f"still blocked after {HANG:g}s against the paused broker"
    return result[0]


def bus_for(broker: Broker) -> KafkaEventBus:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RequiresRegistryWarning)
        return KafkaEventBus(broker.servers, publish_ack=2, admin_timeout=600)


def test_publish_to_a_paused_broker_fails_within_publish_ack(broker: Broker) -> None:
    """The first publish of a bus asks for the topic's metadata first: that wait, too, is
    within publish_ack (it waited the admin timeout: setup, 30 s by default)."""
    bus = bus_for(broker)
    try:
        with broker.paused():
            outcome = outcome_in_thread(lambda: bus.publish(broker.topic, {"id": 1}))
        assert isinstance(outcome, PublishTimeout), outcome
        text = str(outcome)
        assert f"publish to topic '{broker.topic}' was not acknowledged within 2s" in text
        assert f"the broker at {broker.servers} did not answer a metadata request" in text
        assert "\n" not in text
    finally:
        bus.close()


def test_committing_to_a_paused_broker_fails_within_the_setup_timeout(broker: Broker) -> None:
    """A subscription's commit waits for the broker's answer within the setup timeout (a
    synchronous librdkafka commit waited for a coordinator for minutes)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RequiresRegistryWarning)
        bus = KafkaEventBus(broker.servers, publish_ack=2, admin_timeout=2)
    group = f"commits-{uuid.uuid4().hex[:8]}"
    subscription = bus.subscribe(broker.topic, group, idle_timeout=30)
    try:
        assert subscription.poll(30) is not None  # joined, and read a seeded message
        subscription.commit()  # the coordinator is known and answers
        assert subscription.poll(30) is not None
        with broker.paused():
            outcome = outcome_in_thread(subscription.commit)
        assert isinstance(outcome, ConsumeFailed), outcome
        assert "commit failed: the broker did not acknowledge it within 2s" in str(outcome)
    finally:
        subscription.close()
        bus.close()


def seeding(broker: Broker, run_id: str) -> tuple[Any, ServiceHandle]:
    scenario = load_scenario(broker.path, {})
    plugin = build_plugin(scenario, "kafka", run_id)
    handle = ServiceHandle("kafka", {"bootstrap_servers": broker.servers})
    plugin.setup(handle, 30)  # the run's topics, on the live broker
    return plugin, handle


def test_seed_against_a_paused_broker_stops_when_the_run_is_aborted(broker: Broker) -> None:
    """Ctrl-C (or another service failing) sets the abort flag: a seed waiting for delivery
    reports from a paused broker stops instead of waiting out its timeout (600 s here)."""
    plugin, handle = seeding(broker, f"a{uuid.uuid4().hex[:7]}")
    abort = handle.abort = threading.Event()  # as the engine hands a start-up its run's flag
    with broker.paused():
        outcome = outcome_in_thread(lambda: plugin.seed(handle, 600), abort.set)
    assert isinstance(outcome, ServiceFailed), outcome
    assert str(outcome) == "service 'kafka': seeding stopped: the run was aborted"


def test_seed_against_a_paused_broker_fails_within_the_seed_timeout(broker: Broker) -> None:
    plugin, handle = seeding(broker, f"t{uuid.uuid4().hex[:7]}")
    with broker.paused():
        outcome = outcome_in_thread(lambda: plugin.seed(handle, 2))
    assert isinstance(outcome, ServiceFailed), outcome
    assert str(outcome) == (
        "service 'kafka': seeding: 10 of 10 records not confirmed within 2s; "
        "raise timeout_profiles.kafka.seed"
    )


def test_ctrl_c_while_seeding_against_a_paused_broker(
    tmp_path: Path, test_env: dict[str, str], docker_client: Any, no_leaks: None
) -> None:
    """`envctl up` interrupted while it seeds a broker that was paused under it: exit 130,
    one line, nothing left (the seed stops at the abort flag, and is not waited for)."""
    path, name = write_scenario(tmp_path / "s", seed_timeout=600, records=60000)
    test_env["ENVCTL_STATE_DIR"] = str(tmp_path / "state")
    command = [
        sys.executable,
        "-m",
        "envctl",
        "--scenarios-dir",
        str(path.parent),
        "up",
        "-s",
        name,
    ]
    process = subprocess.Popen(
        command,
        env=test_env,
        cwd=REPO,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    assert process.stderr is not None
    lines: list[str] = []
    run_id = ""
    try:
        for line in process.stderr:
            lines.append(line)
            if line.startswith("[kafka] seed"):
                break
        labels = [f"io.envctl.scenario={name}", "io.envctl.service=kafka", SESSION_LABEL]
        container = docker_client.containers.list(filters={"label": labels})[0]
        run_id = container.labels["io.envctl.run-id"]
        container.pause()
        process.send_signal(signal.SIGINT)
        rest = process.communicate(timeout=HANG)[1]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
            if run_id:
                run_envctl("down", "--run-id", run_id, env=test_env)
    stderr = "".join(lines) + rest
    assert process.returncode == 130, stderr
    assert "envctl: interrupted; everything started was removed" in stderr
    assert "Traceback" not in stderr
    assert managed_resources(docker_client, run_id) == []


PUBLISH_DURING_PAUSE = """
name: {name}
dependency_mode: real
external_services:
  kafka:
    type: kafka
    topics: [orders]
timeout_profiles:
  kafka: {{setup: 600, publish_ack: 600}}
steps:
  - publish: {{id: during, topic: orders, key: "1", value: {{id: 1}}}}
faults:
  - {{kind: pause, service: kafka, at: {{step: during}}}}
"""


def test_ctrl_c_during_a_publish_to_a_paused_broker(
    tmp_path: Path, test_env: dict[str, str], docker_client: Any, no_leaks: None
) -> None:
    """A step waits on librdkafka in the main thread: in short slices, so Ctrl-C is honoured
    at once (a metadata request used to block for the whole setup timeout, 600 s here)."""
    from envctl.retry import poll_until

    scenarios = tmp_path / "s"
    scenarios.mkdir()
    name = f"kfault_{uuid.uuid4().hex[:8]}"
    text = textwrap.dedent(PUBLISH_DURING_PAUSE.format(name=name))
    (scenarios / f"scenario_{name}.yaml").write_text(text)
    state = tmp_path / "state"
    test_env["ENVCTL_STATE_DIR"] = str(state)
    command = [sys.executable, "-m", "envctl", "--scenarios-dir", str(scenarios), "run", "-s", name]
    process = subprocess.Popen(
        command, env=test_env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )

    def paused() -> bool:  # the fault is applied just before the step starts
        logs = list(state.glob("runs/*/audit.jsonl"))
        return bool(logs) and '"event": "fault.start"' in logs[0].read_text()

    try:
        assert poll_until(paused, timeout=HANG), "the fault never started"
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=HANG)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 130, stderr
    assert "envctl: interrupted; everything started was removed" in stderr
    assert "Traceback" not in stderr
