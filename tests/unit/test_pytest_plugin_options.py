"""The plugin finds scenarios where it is told, when pytest runs from another folder
(--envctl-scenarios-dir, or the envctl_scenarios_dir ini option). Mock mode: no Docker."""

from __future__ import annotations

import textwrap

import pytest

pytest_plugins = ["pytester"]

SCENARIO = """
name: elsewhere
external_services:
  kafka: {type: kafka, topics: [t]}
steps:
  - publish: {topic: t, value: 1}
"""

TEST = """
import pytest

@pytest.mark.envctl_scenario("elsewhere", mode="mock")
def test_it(envctl_env):
    assert envctl_env.namespace.topic("t") == f"envctl.{envctl_env.run_id}.t"
"""


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.setenv("ENVCTL_STATE_DIR", str(pytester.path / ".state"))
    monkeypatch.setenv("ENVCTL_DEPENDENCY_MODE", "mock")
    path = pytester.path / "specs" / "scenario_elsewhere.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(textwrap.dedent(SCENARIO).lstrip())
    (pytester.path / "suite").mkdir()
    (pytester.path / "suite" / "test_it.py").write_text(textwrap.dedent(TEST).lstrip())
    return pytester


def test_the_option_names_the_scenarios_folder(project: pytest.Pytester) -> None:
    missing = project.runpytest_subprocess("suite")
    missing.assert_outcomes(errors=1)  # ./scenarios does not hold it
    found = project.runpytest_subprocess("suite", "--envctl-scenarios-dir", "specs")
    found.assert_outcomes(passed=1)


def test_the_ini_option_is_relative_to_the_ini_file(project: pytest.Pytester) -> None:
    project.makeini("[pytest]\nenvctl_scenarios_dir = specs\n")
    (project.path / "suite" / "deeper").mkdir()
    result = project.runpytest_subprocess("suite", "--rootdir", str(project.path))
    result.assert_outcomes(passed=1)
