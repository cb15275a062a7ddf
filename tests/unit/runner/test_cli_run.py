"""The run commands as a user types them, in mock mode (no Docker): exit codes and output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
