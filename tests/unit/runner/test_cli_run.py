"""The run commands as a user types them, in mock mode (no Docker): exit codes and output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


def _envctl(*args: str, tmp_path: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "ENVCTL_STATE_DIR": str(tmp_path / "state"), **extra}
    return subprocess.run(
        [sys.executable, "-m", "envctl", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_run_json_and_logs(tmp_path: Path) -> None:
    result = _envctl("run", "-s", "smoke", "--json", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert outcome["status"] == "passed" and outcome["dependency_mode"] == "mock"
    assert (tmp_path / "state" / "runs" / outcome["run_id"] / "audit.jsonl").is_file()
    logs = _envctl("logs", outcome["run_id"], tmp_path=tmp_path)
    assert logs.returncode == 0
    assert "no container logs captured (mock mode starts no container)" in logs.stderr


def test_run_all_unit_category(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    result = _envctl("run-all", "--category", "unit", "--junit", str(junit), tmp_path=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    unit = sorted(p.name for p in (REPO / "scenarios" / "unit").glob("scenario_*.yaml"))
    assert f"{len(unit)} passed" in result.stdout
    import xml.etree.ElementTree as ET

    suite = ET.parse(junit).getroot()
    cases = suite.iter("testcase")
    assert len(list(cases)) == len(unit)


def test_force_mode_beats_the_file_and_bad_values_exit_2(tmp_path: Path) -> None:
    forced = _envctl(
        "run", "-s", "orders_flow_real", "--force-dependency-mode", "MOCK", tmp_path=tmp_path
    )
    assert forced.returncode == 0, forced.stderr
    assert "orders_flow_real: passed" in forced.stdout and "(mock;" in forced.stdout
    bad = _envctl("run", "-s", "smoke", "--force-dependency-mode", "docker", tmp_path=tmp_path)
    assert bad.returncode == 2
    assert "--force-dependency-mode='docker' is not a dependency mode; valid: real, mock" in (
        bad.stderr
    )
    missing = _envctl("replay", "nope", tmp_path=tmp_path)
    assert missing.returncode == 2 and "no recorded run 'nope'" in missing.stderr


def test_check_protocols(tmp_path: Path) -> None:
    """The shipped real and mock tools agree: exit 0, no divergence (issue 10 §7: this test
    accepted exit 1 and any list before, so it could not fail)."""
    result = _envctl("check-protocols", "--json", tmp_path=tmp_path)
    assert (result.returncode, json.loads(result.stdout)) == (0, []), result.stdout
    text = _envctl("check-protocols", tmp_path=tmp_path)
    assert (text.returncode, text.stdout.strip()) == (0, "real and mock tools agree")


def _recorded(tmp_path: Path, run_id: str, events: list[dict[str, object]]) -> Path:
    folder = tmp_path / "state" / "runs" / run_id
    folder.mkdir(parents=True)
    (folder / "audit.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    return folder


def test_logs_of_a_real_run_without_logs_does_not_blame_mock_mode(tmp_path: Path) -> None:
    """Issue 10 §6: `logs` of a failed real run said "mock mode starts no container"."""
    _recorded(
        tmp_path,
        "real0001",
        [{"event": "decision.service", "service": "kafka", "dependency_mode": "real"}],
    )
    logs = _envctl("logs", "real0001", tmp_path=tmp_path)
    assert logs.returncode == 0, logs.stderr
    assert "mock mode" not in logs.stderr
    assert "the run ended before its containers' logs were saved" in logs.stderr


def test_replay_of_a_run_all_id_says_what_to_replay(tmp_path: Path) -> None:
    """Issue 10 §6: replay of a run-all id failed with an internal word ("run.start event")."""
    folder = _recorded(tmp_path, "all00001", [{"event": "run_all.start"}])
    (folder / "result.json").write_text("{}")
    replay = _envctl("replay", "all00001", tmp_path=tmp_path)
    assert replay.returncode == 2, replay.stderr
    assert "is a run-all of several scenarios; replay one of them by its own run id" in (
        replay.stderr
    )
    assert "run.start" not in replay.stderr


def test_a_step_the_recorded_run_never_reached_is_worded_plainly() -> None:
    from envctl.runner.replay import NOT_RECORDED, Difference

    text = str(Difference("step 2 (publish)", NOT_RECORDED, "passed"))
    assert text == "step 2 (publish): not reached in the recorded run, now 'passed'"
    assert "not recorded" not in text


def test_kept_resources_are_in_the_normal_output(capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 10 §6: what cleanup_after kept was only in --json."""
    from envctl.cli.runs import _print_outcome
    from envctl.runner.outcome import ScenarioOutcome

    kept = (
        "run r1 (s) failed; kept for inspection:\n"
        "  kafka: container envctl-s-kafka-r1 — bootstrap_servers=127.0.0.1:5\n"
        "remove with: envctl down --run-id r1"
    )
    _print_outcome(ScenarioOutcome("s", "failed", run_id="r1", kept=kept))
    out = capsys.readouterr().out
    assert "kafka: container envctl-s-kafka-r1 — bootstrap_servers=127.0.0.1:5" in out
    assert "remove with: envctl down --run-id r1" in out
