"""`run --keep-on-failure` and `run-all --keep-on-failure`: a failed run keeps what it
started, says how to reach and remove it, and `down` removes it."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from support import managed_resources, run_envctl

FAILING = """
name: keep_me
dependency_mode: real
cleanup_after: true
external_services:
  cache: {type: redis}
steps:
  - redis: {command: [SET, k, v]}
  - redis: {command: [GET, k], expect: w}
"""


def _tree(tmp_path: Path) -> Path:
    path = tmp_path / "scenarios" / "scenario_keep_me.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(textwrap.dedent(FAILING).lstrip())
    return path.parent


def test_a_failed_run_keeps_everything_and_says_how_to_remove_it(
    test_env: dict[str, str], tmp_path: Path, docker_client: Any
) -> None:
    scenarios = _tree(tmp_path)
    env = {**test_env, "ENVCTL_STATE_DIR": str(tmp_path / "state")}
    done = run_envctl(
        "--scenarios-dir", str(scenarios), "run", "-s", "keep_me", "--keep-on-failure", env=env
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "kept" in done.stdout and "envctl down --run-id" in done.stdout, done.stdout
    run_id = done.stdout.split("run ", 1)[1].split(")")[0].split(";")[0].strip()
    assert any("container" in r for r in managed_resources(docker_client, run_id))
    gone = run_envctl("down", "--run-id", run_id, env=env)
    assert gone.returncode == 0, gone.stderr
    assert managed_resources(docker_client, run_id) == []

    plain = run_envctl("--scenarios-dir", str(scenarios), "run", "-s", "keep_me", env=env)
    assert plain.returncode == 1 and "envctl down --run-id" not in plain.stdout


def test_run_all_keeps_the_failed_scenario(
    test_env: dict[str, str], tmp_path: Path, docker_client: Any
) -> None:
    scenarios = _tree(tmp_path)
    env = {**test_env, "ENVCTL_STATE_DIR": str(tmp_path / "state")}
    done = run_envctl("--scenarios-dir", str(scenarios), "run-all", "--keep-on-failure", env=env)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "envctl down --run-id" in done.stdout, done.stdout
    run_id = done.stdout.split("envctl down --run-id", 1)[1].split()[0].strip("`'\".,;")
    assert any("container" in r for r in managed_resources(docker_client, run_id))
    assert run_envctl("down", "--run-id", run_id, env=env).returncode == 0
    assert managed_resources(docker_client, run_id) == []
