"""Cleanup that never leaks: however a run ends, no labelled resource survives it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from support import REPO, SESSION_LABEL, managed_resources, run_envctl, up_json

SLOW = """
    name: {name}
    dependency_mode: real
    external_services:
      kafka:
        type: kafka
        env: {{LISTENER_URL: "tcp://0.0.0.0:9999"}}   # runs, never answers on 9092
    timeout_profiles:
      kafka: {{health_check: 120}}
    """


def write(folder: Path, name: str, body: str) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / f"scenario_{name}.yaml"
    path.write_text(textwrap.dedent(body.format(name=name)))
    return folder


def start_up(scenarios: Path, name: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "envctl", "--scenarios-dir", str(scenarios), "up", "-s", name],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_container(client: Any, scenario: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = client.containers.list(
            all=True,
            sparse=True,
            filters={"label": [f"io.envctl.scenario={scenario}", "io.envctl.service=kafka"]},
        )
        if found:
            return str(found[0].attrs["Labels"]["io.envctl.run-id"])
        time.sleep(0.05)
    raise AssertionError(f"no container of {scenario} appeared")


@pytest.mark.parametrize(
    ("signum", "code", "word"),
    [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")],
)
def test_signal_during_start_removes_everything(
    signum: int,
    code: int,
    word: str,
    tmp_path: Path,
    test_env: dict[str, str],
    docker_client: Any,
    no_leaks: None,
) -> None:
    name = f"leak_{word}"
    scenarios = write(tmp_path / "s", name, SLOW)
    process = start_up(scenarios, name, test_env)
    run_id = wait_for_container(docker_client, name)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == code, stderr
    assert f"envctl: {word}; everything started was removed" in stderr
    assert "Traceback" not in stderr
    assert managed_resources(docker_client, run_id) == []


def test_sigkill_leaves_resources_that_gc_removes(
    tmp_path: Path, test_env: dict[str, str], docker_client: Any, no_leaks: None
) -> None:
    scenarios = write(tmp_path / "s", "leak_killed", SLOW)
    test_env = {**test_env, "ENVCTL_STATE_DIR": str(tmp_path / "state")}
    process = start_up(scenarios, "leak_killed", test_env)
    run_id = wait_for_container(docker_client, "leak_killed")
    process.kill()
    process.communicate(timeout=30)
    record = tmp_path / "state" / "runs" / run_id / "environment.json"
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps({"run_id": run_id, "scenario": "leak_killed", "services": {}}))
    left = managed_resources(docker_client, run_id)
    assert any(item.startswith("container ") for item in left)
    assert any(item.startswith("network ") for item in left)

    dry = run_envctl("gc", "--dry-run", env=test_env)
    assert dry.returncode == 0, dry.stderr
    assert f"would remove run {run_id} (leak_killed)" in dry.stdout
    assert f"owner process {process.pid}" in dry.stdout
    assert managed_resources(docker_client, run_id) == left

    result = run_envctl("gc", env=test_env)
    assert result.returncode == 0, result.stderr
    assert f"removed run {run_id} (leak_killed): 1 containers, 1 networks" in result.stdout
    assert managed_resources(docker_client, run_id) == []
    assert not record.exists()  # gc forgets the record of a run it collected (issue 10 §3b)
    again = run_envctl("gc", env=test_env)
    assert again.returncode == 0
    assert run_id not in again.stdout


def test_gc_keeps_environments_left_up_on_purpose(
    test_env: dict[str, str], docker_client: Any, no_leaks: None
) -> None:
    data = up_json(run_envctl("up", "-s", "kafka_real_basic", "--json", env=test_env))
    run_id = data["run_id"]
    try:
        result = run_envctl("gc", env=test_env)
        assert result.returncode == 0, result.stderr
        assert run_id not in result.stdout
        assert managed_resources(docker_client, run_id)
        aged = run_envctl("gc", "--older-than", "0s", "--dry-run", env=test_env)
        assert f"would remove run {run_id}" in aged.stdout
        assert "older than the limit" in aged.stdout
    finally:
        run_envctl("down", "--run-id", run_id, env=test_env)
    assert managed_resources(docker_client, run_id) == []


def test_two_ups_of_one_scenario_do_not_collide(
    test_env: dict[str, str], docker_client: Any, no_leaks: None
) -> None:
    command = [sys.executable, "-m", "envctl", "up", "-s", "kafka_real_basic", "--json"]
    processes = [
        subprocess.Popen(
            command,
            env=test_env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=180) for p in processes]
    results = [json.loads(out) for out, _ in outputs if out.strip()]
    try:
        assert [p.returncode for p in processes] == [0, 0], [err for _, err in outputs]
        run_ids = {r["run_id"] for r in results}
        servers = {r["services"]["kafka"]["bootstrap_servers"] for r in results}
        containers = {r["services"]["kafka"]["container"] for r in results}
        assert len(run_ids) == len(servers) == len(containers) == 2
    finally:
        for r in results:
            run_envctl("down", "--run-id", r["run_id"], env=test_env)


def test_keep_on_failure_keeps_and_says_how_to_remove(
    tmp_path: Path, test_env: dict[str, str], docker_client: Any, no_leaks: None
) -> None:
    scenarios = write(tmp_path / "s", "kept", SLOW.replace("health_check: 120", "health_check: 1"))
    result = run_envctl(
        "--scenarios-dir", str(scenarios), "up", "-s", "kept", "--keep-on-failure", env=test_env
    )
    assert result.returncode == 1
    kept_line = next(x for x in result.stderr.splitlines() if "kept for inspection" in x)
    run_id = kept_line.split("run ")[1].split(":")[0]
    try:
        assert f"envctl down --run-id {run_id}" in kept_line
        assert "container envctl-kept-kafka-" in kept_line
        assert managed_resources(docker_client, run_id)
        gc = run_envctl("gc", env=test_env)
        assert run_id not in gc.stdout  # kept on purpose, like `up`
    finally:
        down = run_envctl("down", "--run-id", run_id, env=test_env)
    assert down.returncode == 0
    assert managed_resources(docker_client, run_id) == []


def test_down_all_twice(test_env: dict[str, str], docker_client: Any) -> None:
    data = up_json(run_envctl("up", "-s", "kafka_real_basic", "--json", env=test_env))
    first = run_envctl("down", "--scenario", "kafka_real_basic", env=test_env)
    second = run_envctl("down", "--scenario", "kafka_real_basic", env=test_env)
    assert first.returncode == 0 and second.returncode == 0
    assert data["run_id"] in first.stdout
    assert second.stdout.strip() == "nothing to remove"
    assert managed_resources(docker_client, data["run_id"]) == []


def test_down_all_and_gc_stay_inside_envctl_labels(
    tmp_path: Path, test_env: dict[str, str], docker_client: Any, no_leaks: None
) -> None:
    """On a shared daemon (and state folder), two users with different ENVCTL_LABELS: one's
    `down --all` and `gc --older-than` touch only that user's environments."""
    state = str(tmp_path / "state")
    envs = {
        user: {
            **test_env,
            "ENVCTL_STATE_DIR": state,
            "ENVCTL_LABELS": f"{SESSION_LABEL},envctl-test.user={user}",
        }
        for user in ("a", "b")
    }
    run_ids: dict[str, str] = {}
    try:
        for user, env in envs.items():
            data = up_json(run_envctl("up", "-s", "kafka_real_basic", "--json", env=env))
            run_ids[user] = data["run_id"]
        mine, theirs = run_ids["a"], run_ids["b"]

        aged = run_envctl("gc", "--older-than", "0s", "--dry-run", env=envs["a"])
        assert aged.returncode == 0, aged.stderr
        assert f"would remove run {mine}" in aged.stdout
        assert theirs not in aged.stdout

        down = run_envctl("down", "--all", env=envs["a"])
        assert down.returncode == 0, down.stderr
        assert mine in down.stdout and theirs not in down.stdout
        assert managed_resources(docker_client, mine) == []
        assert managed_resources(docker_client, theirs)
        assert (tmp_path / "state" / "runs" / theirs / "environment.json").exists()

        again = run_envctl("down", "--all", env=envs["a"])
        assert again.stdout.strip() == "nothing to remove"
        assert "ENVCTL_LABELS=" in again.stderr  # says the search was narrowed
    finally:
        for user, run_id in run_ids.items():
            run_envctl("down", "--run-id", run_id, env=envs[user])
    for run_id in run_ids.values():
        assert managed_resources(docker_client, run_id) == []


def test_no_owner_pid_reuse_confusion_for_live_owner(
    tmp_path: Path, test_env: dict[str, str], docker_client: Any, no_leaks: None
) -> None:
    """A run whose owner is still alive (starting, here) is never collected by gc."""
    scenarios = write(tmp_path / "s", "leak_alive", SLOW)
    process = start_up(scenarios, "leak_alive", test_env)
    try:
        run_id = wait_for_container(docker_client, "leak_alive")
        result = run_envctl("gc", env=test_env)
        assert run_id not in result.stdout
        assert managed_resources(docker_client, run_id)
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=60)
    assert os.path.exists(REPO)


def test_run_in_another_pid_namespace_is_kept_while_alive_and_collected_once_killed(
    tmp_path: Path, test_env: dict[str, str], docker_client: Any, no_leaks: None
) -> None:
    """Issue 10 §3: the owner runs under `unshare --pid` (pid 1 of its own namespace, same
    host name); gc from outside never collects it while it lives, and does once it is dead."""
    scenarios = write(tmp_path / "s", "leak_pidns", SLOW)
    command = [sys.executable, "-m", "envctl", "--scenarios-dir", str(scenarios)]
    process = subprocess.Popen(
        ["unshare", "--pid", "--fork", "--kill-child", *command, "up", "-s", "leak_pidns"],
        env=test_env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        run_id = wait_for_container(docker_client, "leak_pidns")
        for args in (("gc", "--dry-run"), ("gc",)):
            result = run_envctl(*args, env=test_env)
            assert result.returncode == 0, result.stderr
            assert f"run {run_id}" not in result.stdout.replace(f"kept run {run_id}", "")
        assert any(r.startswith("container ") for r in managed_resources(docker_client, run_id))
    finally:
        # SIGKILL the owner (pid 1 inside); unshare reaps it and exits, so once
        # communicate() returns the owner and its namespace are gone
        children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
        for child in children:
            os.kill(int(child), signal.SIGKILL)
        process.communicate(timeout=30)
    result = run_envctl("gc", env=test_env)
    assert result.returncode == 0, result.stderr
    assert f"removed run {run_id} (leak_pidns)" in result.stdout
    assert "owner process 1 on" in result.stdout
    assert managed_resources(docker_client, run_id) == []
