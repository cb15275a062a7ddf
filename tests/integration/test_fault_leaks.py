"""The leak/revert suite: however a run with active faults ends, no fault is left behind.

SIGINT and SIGTERM in the middle of a run unwind through its cleanup: its faults are
reverted (the environment is kept here, ``cleanup_after: false``, to look at it). SIGKILL
leaves the revert journal; ``envctl gc`` replays it. Nothing may stay paused,
disconnected, limited or proxied with a fault.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest
from support import REPO, managed_resources, run_envctl, up_json

from envctl.faults.proxies import LABEL_FAULT_PROXY, ProxyProcess, is_proxy
from envctl.retry import poll_until

pytestmark = pytest.mark.docker

EVENT_WAIT = 120.0
"""Seconds to wait for a run to reach its faults (it starts two containers first)."""
EXIT_WAIT = 120.0
"""Seconds a signalled run has to revert, clean up and exit."""

SCENARIO = """
name: {name}
dependency_mode: real
cleanup_after: false
external_services:
  cache: {{type: redis}}
  db: {{type: postgres}}
steps:
  - redis: {{id: warm, command: [SET, k, v]}}
  - call: {{id: hold, function: "hold:until_signalled"}}
faults:
  - {{kind: latency, service: cache, delay: 300ms, after: {{step: warm}}}}
  - {{kind: cpu, service: cache, cpus: 0.5, after: {{step: warm}}}}
  - {{kind: memory, service: cache, memory: 64m, after: {{step: warm}}}}
  - {{kind: partition, service: cache, from: network, after: {{step: warm}}}}
  - {{kind: pause, service: db, after: {{step: warm}}}}
"""

HOLD = '''
"""Keeps the run in the middle of its faults until the test signals it."""
import threading

HOLD_LIMIT = 300.0


def until_signalled(ctx):
    threading.Event().wait(HOLD_LIMIT)
'''


def start_run(tmp_path: Path, env: dict[str, str]) -> tuple[subprocess.Popen[str], str, Path]:
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    name = f"fleak_{uuid.uuid4().hex[:8]}"
    (scenarios / f"scenario_{name}.yaml").write_text(textwrap.dedent(SCENARIO.format(name=name)))
    (scenarios / "hold.py").write_text(HOLD)
    process = subprocess.Popen(
        [sys.executable, "-m", "envctl", "--scenarios-dir", str(scenarios), "run", "-s", name],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return process, name, scenarios


def faults_started(state: Path, count: int) -> str:
    """The run id, once its audit log shows ``count`` faults started."""
    found: dict[str, str] = {}

    def started() -> bool:
        for audit in state.glob("runs/*/audit.jsonl"):
            events = [json.loads(line) for line in audit.read_text().splitlines() if line]
            if sum(e["event"] == "fault.start" for e in events) >= count:
                found["run"] = audit.parent.name
                return True
        return False

    assert poll_until(started, EVENT_WAIT, max_interval=0.2), "the faults never started"
    return found["run"]


def containers(client: Any, run_id: str) -> dict[str, Any]:
    return {
        c.labels["io.envctl.service"]: c
        for c in client.containers.list(all=True, filters={"label": f"io.envctl.run-id={run_id}"})
    }


def assert_nothing_left(client: Any, run_id: str, state: Path) -> None:
    """Every container of the run running, on its network, unlimited, its proxy clean."""
    info = client.info()
    for service, container in containers(client, run_id).items():
        attrs = client.api.inspect_container(container.id)
        assert attrs["State"]["Status"] == "running", service
        networks = attrs["NetworkSettings"]["Networks"]
        assert len(networks) == 1 and service in next(iter(networks.values()))["Aliases"]
        host = attrs["HostConfig"]
        assert host["NanoCpus"] in (0, info["NCPU"] * 1_000_000_000), service
        assert host["Memory"] in (0, info["MemTotal"]), service
        proxy = ProxyProcess.from_label(container.labels.get(LABEL_FAULT_PROXY, ""))
        if proxy is not None:
            assert proxy_toxics(proxy) == {
                "delay": 0.0,
                "jitter": 0.0,
                "rate": 0.0,
                "loss": 0.0,
                "mode": "pass",
            }
    assert not (state / "runs" / run_id / "faults.json").exists()


def proxy_toxics(proxy: ProxyProcess) -> dict[str, Any]:
    import socket

    with socket.create_connection(("127.0.0.1", proxy.control), timeout=5) as sock:
        sock.sendall(b"{}\n")
        return dict(json.loads(sock.makefile().readline())["toxics"])


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_mid_fault_reverts_every_fault(
    sig: signal.Signals, tmp_path: Path, test_env: dict[str, str], docker_client: Any
) -> None:
    state = tmp_path / "state"
    test_env["ENVCTL_STATE_DIR"] = str(state)
    process, _name, _scenarios = start_run(tmp_path, test_env)
    run_id = ""
    try:
        run_id = faults_started(state, 5)
        running = containers(docker_client, run_id)
        assert docker_client.api.inspect_container(running["db"].id)["State"]["Status"] == "paused"
        assert (state / "runs" / run_id / "faults.json").exists()
        process.send_signal(sig)
        process.wait(EXIT_WAIT)
        assert process.returncode in (130, 143), process.stderr.read() if process.stderr else ""
        assert_nothing_left(docker_client, run_id, state)
        events = [
            json.loads(line)
            for line in (state / "runs" / run_id / "audit.jsonl").read_text().splitlines()
        ]
        ended = [e for e in events if e["event"] == "fault.end"]
        assert len(ended) == 5 and all(e["error"] is None for e in ended)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(EXIT_WAIT)
        if run_id:
            run_envctl("down", "--run-id", run_id, env=test_env)
            assert managed_resources(docker_client, run_id) == []


def test_sigkill_mid_fault_then_gc_reverts_and_collects(
    tmp_path: Path, test_env: dict[str, str], docker_client: Any
) -> None:
    state = tmp_path / "state"
    test_env["ENVCTL_STATE_DIR"] = str(state)
    process, _name, _scenarios = start_run(tmp_path, test_env)
    run_id = ""
    try:
        run_id = faults_started(state, 5)
        proxies = [
            p
            for c in containers(docker_client, run_id).values()
            if (p := ProxyProcess.from_label(c.labels.get(LABEL_FAULT_PROXY, ""))) is not None
        ]
        assert proxies
        process.kill()
        process.wait(EXIT_WAIT)
        journal = json.loads((state / "runs" / run_id / "faults.json").read_text())
        assert len(journal["active"]) == 5  # the killed run reverted nothing
        gc = run_envctl("gc", env=test_env)
        assert gc.returncode == 0, gc.stderr
        assert gc.stdout.count(f"run {run_id}: reverted") == 5, gc.stdout
        assert f"removed run {run_id}" in gc.stdout
        assert managed_resources(docker_client, run_id) == []
        assert poll_until(lambda: not any(is_proxy(p.pid) for p in proxies), EXIT_WAIT)
        assert not (state / "runs" / run_id / "faults.json").exists()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(EXIT_WAIT)
        if run_id:
            run_envctl("down", "--run-id", run_id, env=test_env)


def test_sigkill_of_envctl_fault_then_gc_reverts_a_kept_environment(
    tmp_path: Path, test_env: dict[str, str], docker_client: Any
) -> None:
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    name = f"fkeep_{uuid.uuid4().hex[:8]}"
    (scenarios / f"scenario_{name}.yaml").write_text(
        f"name: {name}\ndependency_mode: real\nexternal_services:\n  cache: {{type: redis}}\n"
    )
    state = tmp_path / "state"
    test_env["ENVCTL_STATE_DIR"] = str(state)
    data = up_json(
        run_envctl(
            "--scenarios-dir", str(scenarios), "up", "-s", name, "--json",
            "--fault-proxy", "cache", env=test_env,
        )
    )  # fmt: skip
    run_id = data["run_id"]
    try:
        container = data["services"]["cache"]["container"]
        holder = subprocess.Popen(
            [sys.executable, "-m", "envctl", "fault", "pause", "--run-id", run_id,
             "--service", "cache", "--duration", "300s"],
            env=test_env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

        def paused() -> bool:
            status = docker_client.api.inspect_container(container)["State"]["Status"]
            return bool(status == "paused")

        assert poll_until(paused, EVENT_WAIT)
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(EXIT_WAIT)
        assert paused()  # a SIGKILLed process reverts nothing itself
        gc = run_envctl("gc", env=test_env)
        assert gc.returncode == 0, gc.stderr
        assert f"run {run_id}: reverted pause of cache" in gc.stdout
        assert not paused()  # reverted, and the environment (left up on purpose) is kept
        assert managed_resources(docker_client, run_id)
        assert_nothing_left(docker_client, run_id, state)
    finally:
        run_envctl("down", "--run-id", run_id, env=test_env)
    assert managed_resources(docker_client, run_id) == []
