"""run-all in mock mode (no Docker): statuses, exit codes, result.json, JUnit XML, replay."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest

from envctl.report.junit import write_junit
from envctl.runner import Runner, replay, run_all

PASSING = """
name: {name}
external_services:
  kafka: {{type: kafka, topics: [t]}}
steps:
  - publish: {{topic: t, value: 1}}
expected: {{messages: {{t: 1}}}}
"""

FAILING = """
name: bad
external_services:
  kafka: {type: kafka, topics: [t]}
steps:
  - consume: {topic: t, count: 1, within: 0.2}
"""

# An optional external cache that is not there (port 1 refuses): no Docker needed.
OPTIONAL = """
name: {name}
dependency_mode: real
external_services:
  cache:
    type: redis
    mode: external
    url: redis://127.0.0.1:1/0
    required: false
    {fallback}
timeout_profiles:
  cache: {{health_check: 0.3}}
steps:
  - redis: {{command: [SET, k, v]}}
  - redis: {{command: [GET, k], expect: v}}
"""


@pytest.fixture
def tree(scenario_file: Callable[[str, str], Path]) -> None:
    scenario_file("unit/scenario_a.yaml", PASSING.format(name="a"))
    scenario_file("unit/scenario_b.yaml", PASSING.format(name="b"))
    scenario_file("unit/scenario_bad.yaml", FAILING)
    scenario_file("mixed/scenario_deg.yaml", OPTIONAL.format(name="deg", fallback="fallback: mock"))
    scenario_file("mixed/scenario_skip.yaml", OPTIONAL.format(name="skip", fallback=""))


def test_statuses_exit_codes_and_result_json(runner: Runner, tree: None) -> None:
    result = run_all(runner, parallel=2)
    statuses = {o.name: o.status for o in result.outcomes}
    assert statuses == {
        "a": "passed",
        "b": "passed",
        "bad": "failed",
        "deg": "degraded",
        "skip": "skipped",
    }
    assert result.exit_code() == 1
    deg = next(o for o in result.outcomes if o.name == "deg")
    assert "optional service 'cache' could not be started" in (deg.reason or "")
    assert "fallback: mock" in (deg.reason or "")
    skip = next(o for o in result.outcomes if o.name == "skip")
    assert "required: false, no fallback" in (skip.reason or "")
    data = json.loads((result.directory / "result.json").read_text())
    assert data["run_id"] == result.run_id and data["profile"] == "default"
    assert data["dependency_mode"] == "declared"
    assert data["scenarios"]["a"]["status"] == "passed"
    assert "seconds" in data["scenarios"]["bad"] and data["scenarios"]["bad"]["reason"]
    assert data["scenarios"]["skip"]["reason"]


def test_category_and_strict(runner: Runner, tree: None) -> None:
    result = run_all(runner, category="mixed")
    assert sorted(o.name for o in result.outcomes) == ["deg", "skip"]
    assert result.exit_code() == 0
    assert result.exit_code(strict=True) == 1


def test_invalid_scenario_is_exit_2(
    runner: Runner, tree: None, scenario_file: Callable[[str, str], Path]
) -> None:
    scenario_file("unit/scenario_broken.yaml", "name: broken\nsteps:\n  - publsh: {}\n")
    result = run_all(runner, category="unit")
    assert {o.name: o.status for o in result.outcomes}["broken"] == "error"
    assert result.exit_code() == 2


def test_junit_xml_parses_back(runner: Runner, tree: None, tmp_path: Path) -> None:
    result = run_all(runner)
    path = tmp_path / "junit.xml"
    write_junit(path, result.outcomes, strict=True)
    root = ET.parse(path).getroot()
    suite = root.find("testsuite")
    assert suite is not None
    assert suite.get("tests") == "5"
    assert suite.get("failures") == "2"  # bad, and deg under strict
    assert suite.get("skipped") == "1"
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    failure = cases["bad"].find("failure")
    assert failure is not None and "step 0 (consume" in (failure.get("message") or "")
    skipped = cases["skip"].find("skipped")
    assert skipped is not None and "no fallback" in (skipped.get("message") or "")
    assert cases["a"].find("failure") is None and cases["a"].find("skipped") is None


def test_replay_reports_differences(
    runner: Runner, scenario_file: Callable[[str, str], Path]
) -> None:
    from envctl.scenario import load_scenario

    path = scenario_file("unit/scenario_r.yaml", PASSING.format(name="r"))
    first = runner.run(load_scenario(path, {}))
    assert first.status == "passed"
    same = replay(runner, first.run_id)
    assert same.same, same.differences
    assert same.outcome.run_id != first.run_id
    # The scenario changes after the recording: the recorded steps are replayed, the
    # expectations are today's, and the difference is reported.
    path.write_text(PASSING.format(name="r").replace("t: 1}", "t: 2}"))
    changed = replay(runner, first.run_id)
    assert not changed.same
    assert any(d.where == "status" for d in changed.differences)
