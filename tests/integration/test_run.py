"""`envctl run`, `run-all`, `replay` and `logs` against real services (and their mocks).

Every scenario here runs in both modes where it can; the divergent one shows why real runs
matter: it passes against the mocks and fails against PostgreSQL.
"""

from __future__ import annotations

import json
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from support import REPO, run_envctl

DIVERGENT = REPO / "tests" / "integration" / "scenarios"


def _json(result: Any) -> dict[str, Any]:
    assert result.stdout, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


@pytest.mark.parametrize("mode", ["real", "mock"])
def test_orders_flow_in_both_modes(test_env: dict[str, str], no_leaks: None, mode: str) -> None:
    result = run_envctl(
        "run", "-s", "orders_flow_real", "--force-dependency-mode", mode, "--json", env=test_env
    )
    outcome = _json(result)
    assert result.returncode == 0, outcome.get("reason")
    assert outcome["status"] == "passed"
    assert outcome["dependency_mode"] == mode
    assert {f["mode"] for f in outcome["factories"].values()} == {mode}
    assert [s["status"] for s in outcome["steps"]] == ["passed"] * 6
    assert all(e["status"] == "passed" for e in outcome["expectations"])
    if mode == "mock":
        assert "up" not in outcome["phases"] and not outcome["services"]
    else:
        assert outcome["phases"]["up"] > 0
        assert outcome["services"]["kafka"]["image"] == test_env["ENVCTL_IMAGE_KAFKA"]


def test_passes_with_mocks_fails_for_real(test_env: dict[str, str], no_leaks: None) -> None:
    """SQLite (the mock) does not enforce VARCHAR(8); PostgreSQL rejects the row."""
    args = ("--scenarios-dir", str(DIVERGENT), "run", "-s", "sku_length_real", "--json")
    mock = run_envctl(*args, "--force-dependency-mode", "mock", env=test_env)
    assert mock.returncode == 0, mock.stdout
    real = run_envctl(*args, env=test_env)
    assert real.returncode == 1, real.stdout
    outcome = _json(real)
    step = outcome["steps"][1]
    assert step["status"] == "failed"
    assert "value too long for type character varying(8)" in step["error"]
    assert step["where"] == "service 'postgres'"
    assert (
        "step 1 (sql, " in outcome["reason"]
        and "scenario_sku_length_real.yaml:13" in (outcome["reason"])
    )


def test_e2e_with_app_container_logs_and_audit(
    test_env: dict[str, str], no_leaks: None, tmp_path: Path
) -> None:
    env = {**test_env, "ENVCTL_APP_IMAGE": "envctl-test/postgres:15"}
    env["ENVCTL_STATE_DIR"] = str(tmp_path / "state")
    result = run_envctl("run", "-s", "orders_e2e_real", "--json", env=env)
    outcome = _json(result)
    assert result.returncode == 0, outcome.get("reason")
    kinds = [s["kind"] for s in outcome["steps"]]
    assert kinds.count("http") == 4 and kinds.count("exec") == 2

    run_dir = Path(outcome["run_dir"])
    events = [json.loads(line) for line in (run_dir / "audit.jsonl").read_text().splitlines()]
    decisions = {e["service"]: e for e in events if e["event"] == "decision.service"}
    assert decisions["app"]["image"] == "envctl-test/postgres:15"
    assert decisions["kafka"]["image_source"] == "ENVCTL_IMAGE_KAFKA"
    assert {e["service"] for e in events if e["event"] == "logs"} == {
        "kafka",
        "postgres",
        "redis",
        "app",
    }
    assert any(e["event"] == "phase" and e.get("phase") == "ready" for e in events)

    logs = run_envctl("logs", outcome["run_id"], "--service", "app", env=env)
    assert logs.returncode == 0, logs.stderr
    assert "listening on 8080" in logs.stdout
    missing = run_envctl("logs", outcome["run_id"], "--service", "nope", env=env)
    assert missing.returncode == 2 and "captured: app, kafka, postgres, redis" in missing.stderr

    # In mock mode the application container has no double: skipped, with the reason.
    mock = run_envctl(
        "run", "-s", "orders_e2e_real", "--force-dependency-mode", "mock", "--json", env=env
    )
    skipped = _json(mock)
    assert mock.returncode == 0
    assert skipped["status"] == "skipped"
    assert "service 'app' (generic), which has no mock" in skipped["reason"]


def _tree(root: Path) -> Path:
    def write(rel: str, text: str) -> None:
        path = root / "scenarios" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))

    kafka = """
        name: {name}
        dependency_mode: real
        external_services:
          kafka: {{type: kafka, topics: [orders]}}
        steps:
          - publish: {{topic: orders, key: "{name}", value: {{n: 1}}}}
          - expect_message: {{topic: orders, match: {{key: "{name}"}}, within: 10}}
        expected:
          messages: {{orders: 1}}
        """
    for name in ("k1", "k2", "k3"):
        write(f"integration/scenario_{name}.yaml", kafka.format(name=name))
    write(
        "integration/scenario_broken_real.yaml",
        """
        name: broken_real
        dependency_mode: real
        external_services:
          kafka: {type: kafka, topics: [orders]}
        steps:
          - expect_message: {topic: orders, match: {key: never}, within: 1}
        """,
    )
    write(
        "mixed/scenario_degraded.yaml",
        """
        name: degraded
        dependency_mode: real
        external_services:
          cache: {type: redis, mode: external, url: "redis://127.0.0.1:1/0",
                  required: false, fallback: mock}
        timeout_profiles:
          cache: {health_check: 1}
        steps:
          - redis: {command: [SET, a, b]}
        """,
    )
    return root / "scenarios"


def test_run_all_shares_instances_exit_codes_and_junit(
    test_env: dict[str, str], no_leaks: None, tmp_path: Path
) -> None:
    scenarios = _tree(tmp_path)
    env = {**test_env, "ENVCTL_STATE_DIR": str(tmp_path / "state")}
    junit = tmp_path / "junit.xml"
    result = run_envctl(
        "--scenarios-dir",
        str(scenarios),
        "run-all",
        "--parallel",
        "3",
        "--junit",
        str(junit),
        "--json",
        str(tmp_path / "all.json"),
        env=env,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    data = json.loads((tmp_path / "all.json").read_text())
    statuses = {name: s["status"] for name, s in data["scenarios"].items()}
    assert statuses == {
        "broken_real": "failed",
        "degraded": "degraded",
        "k1": "passed",
        "k2": "passed",
        "k3": "passed",
    }
    # The four Kafka scenarios need identical services: one broker, shared.
    (key, members), *_ = data["shared_instances"].items()
    assert sorted(members) == ["broken_real", "k1", "k2", "k3"]
    assert data["scenarios"]["k1"]["shared_instance"] == key
    result_json = json.loads(
        (tmp_path / "state" / "runs" / data["run_id"] / "result.json").read_text()
    )
    assert set(result_json) >= {"run_id", "profile", "scenarios"}
    assert result_json["scenarios"]["degraded"]["reason"]

    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("5", "1", "0")
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    failure = cases["broken_real"].find("failure")
    assert failure is not None and "expect_message" in (failure.get("message") or "")

    mixed = run_envctl("--scenarios-dir", str(scenarios), "run-all", "--category", "mixed", env=env)
    assert mixed.returncode == 0, mixed.stdout
    strict = run_envctl(
        "--scenarios-dir", str(scenarios), "run-all", "--category", "mixed", "--strict", env=env
    )
    assert strict.returncode == 1 and "degraded (fails: --strict)" in strict.stdout

    (scenarios / "mixed" / "scenario_bad.yaml").write_text("name: bad\nsteps: [{publsh: {}}]\n")
    invalid = run_envctl(
        "--scenarios-dir", str(scenarios), "run-all", "--category", "mixed", env=env
    )
    assert invalid.returncode == 2, invalid.stdout


def test_replay_of_a_real_run(test_env: dict[str, str], no_leaks: None, tmp_path: Path) -> None:
    env = {**test_env, "ENVCTL_STATE_DIR": str(tmp_path / "state")}
    first = _json(run_envctl("run", "-s", "orders_flow_real", "--json", env=env))
    assert first["status"] == "passed"
    again = run_envctl("replay", first["run_id"], "--json", env=env)
    replayed = _json(again)
    assert again.returncode == 0, replayed["differences"]
    assert replayed["same"] and replayed["run_id"] != first["run_id"]
    assert replayed["outcome"]["dependency_mode"] == "real"
    mocked = _json(
        run_envctl("replay", first["run_id"], "--force-dependency-mode", "mock", "--json", env=env)
    )
    assert mocked["outcome"]["dependency_mode"] == "mock" and mocked["same"]
    unknown = run_envctl("replay", "nosuchrun", env=env)
    assert unknown.returncode == 2 and "no recorded run 'nosuchrun'" in unknown.stderr


def test_invalid_dependency_mode_is_a_config_error(test_env: dict[str, str]) -> None:
    forced = run_envctl("run", "-s", "smoke", "--force-dependency-mode", "fake", env=test_env)
    assert forced.returncode == 2
    assert "valid: real, mock" in forced.stderr
    from_env = run_envctl("run", "-s", "smoke", env={**test_env, "ENVCTL_DEPENDENCY_MODE": "x"})
    assert from_env.returncode == 2 and "ENVCTL_DEPENDENCY_MODE='x'" in from_env.stderr


def test_run_follows_cleanup_after_and_stores_the_snapshot_diff(
    tmp_path: Path, test_env: dict[str, str], docker_client: Any, no_leaks: None
) -> None:
    from support import managed_resources

    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    (scenarios / "scenario_keep_real.yaml").write_text(
        textwrap.dedent("""
        name: keep_real
        dependency_mode: real
        external_services:
          cache: {type: redis}
        steps:
          - redis: {command: [SET, greeting, hello], expect: OK}
        snapshot: {before: true, after: true}
        cleanup_after: false
        """)
    )
    result = run_envctl(
        "--scenarios-dir",
        str(scenarios),
        "run",
        "-s",
        "keep_real",
        "--json",
        env=test_env,
        cwd=tmp_path,
    )
    outcome = _json(result)
    run_id = outcome["run_id"]
    try:
        assert result.returncode == 0, outcome.get("reason")
        assert f"envctl down --run-id {run_id}" in outcome["kept"]
        assert "redis-cli" in outcome["kept"]
        assert managed_resources(docker_client, run_id)  # kept for inspection
        diff = json.loads((Path(outcome["run_dir"]) / "diff.json").read_text())
        added = json.dumps(diff["services"]["cache"])
        assert "greeting" in added
        assert "snapshot_before" in outcome["phases"] and "snapshot_after" in outcome["phases"]
    finally:
        down = run_envctl("down", "--run-id", run_id, env=test_env, cwd=tmp_path)
    assert down.returncode == 0, down.stderr
    assert managed_resources(docker_client, run_id) == []
