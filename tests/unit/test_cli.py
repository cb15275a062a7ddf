"""The commands that need no Docker: validate, graph, schema; and main()'s exit codes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from envctl.cli import cli, main

DIAMOND = """
name: diamond
external_services:
  kafka: {type: kafka}
  left: {type: kafka, depends_on: kafka}
  right: {type: kafka, depends_on: [kafka]}
  app: {type: kafka, depends_on: [right, left]}
"""

BROKEN = """
name: broken
dependency_mode: reel
external_services:
  kafka: {type: kafka, imgae: x}
"""


@pytest.fixture
def project(
    write_scenario: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A project folder (the working directory) with a scenarios tree."""
    write_scenario("scenarios/unit/scenario_diamond.yaml", DIAMOND)
    write_scenario("scenarios/unit/scenario_single.yaml", "name: single\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_validate_one_valid_file(project: Path, runner: CliRunner) -> None:
    result = runner.invoke(cli, ["validate", "scenarios/unit/scenario_diamond.yaml"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "ok   scenarios/unit/scenario_diamond.yaml (diamond)\n"
    assert result.stderr == "1 valid, 0 invalid\n"


def test_validate_the_whole_tree_by_default(project: Path, runner: CliRunner) -> None:
    result = runner.invoke(cli, ["validate"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "ok   scenarios/unit/scenario_diamond.yaml (diamond)",
        "ok   scenarios/unit/scenario_single.yaml (single)",
    ]
    assert result.stderr == "2 valid, 0 invalid\n"


def test_validate_reports_every_problem_and_exits_2(
    project: Path, runner: CliRunner, write_scenario: Callable[..., Path]
) -> None:
    write_scenario("scenarios/mixed/scenario_broken.yaml", BROKEN)
    result = runner.invoke(cli, ["validate", "scenarios"])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "scenarios/mixed/scenario_broken.yaml:2: dependency_mode: 'reel' is not valid;"
        " input should be 'real' or 'mock'",
        "scenarios/mixed/scenario_broken.yaml:4: external_services.kafka.imgae: unknown key"
        " — did you mean 'image'?",
        "2 valid, 1 invalid",
    ]
    assert "scenario_diamond.yaml (diamond)" in result.stdout


def test_validate_with_scenarios_dir_option(project: Path, runner: CliRunner) -> None:
    result = runner.invoke(cli, ["--scenarios-dir", "scenarios/unit", "validate"])
    assert result.exit_code == 0, result.output
    assert result.stderr == "2 valid, 0 invalid\n"


def test_validate_the_shipped_scenarios(
    project: Path, runner: CliRunner, shipped_scenarios: Path
) -> None:
    result = runner.invoke(cli, ["validate", str(shipped_scenarios)])
    assert result.exit_code == 0, result.output
    assert "(kafka_real_basic)" in result.stdout
    assert result.stderr.endswith(" valid, 0 invalid\n")


def test_graph_text(project: Path, runner: CliRunner) -> None:
    result = runner.invoke(cli, ["graph", "-s", "diamond"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "level 0: kafka",
        "level 1: left (after kafka), right (after kafka)",
        "level 2: app (after left, right)",
    ]


def test_graph_dot(project: Path, runner: CliRunner) -> None:
    result = runner.invoke(cli, ["graph", "--scenario", "diamond", "--format", "dot"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == 'digraph "diamond" {'
    assert lines[-1] == "}"
    assert '  "kafka" -> "left";' in lines
    assert '  "right" -> "app";' in lines
    assert sum("->" in line for line in lines) == 4


def test_graph_json(project: Path, runner: CliRunner) -> None:
    result = runner.invoke(cli, ["graph", "-s", "diamond", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "scenario": "diamond",
        "levels": [["kafka"], ["left", "right"], ["app"]],
        "depends_on": {
            "kafka": [],
            "left": ["kafka"],
            "right": ["kafka"],
            "app": ["left", "right"],
        },
    }


def test_graph_by_file_path(project: Path, runner: CliRunner) -> None:
    result = runner.invoke(cli, ["graph", "-s", "scenarios/unit/scenario_single.yaml"])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""  # no services, no levels


def test_schema_is_json_with_the_scenario_keys(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["schema"])
    assert result.exit_code == 0, result.output
    schema = json.loads(result.stdout)
    assert schema["title"] == "Scenario"
    for key in ("name", "external_services", "dependency_mode", "timeout_profiles", "steps"):
        assert key in schema["properties"]
    assert "name" in schema["required"]


def test_main_missing_scenario_is_one_line_exit_2(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["graph", "-s", "nope"])
    assert info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("envctl: error: no scenario named 'nope' under ")
    assert "Traceback" not in captured.err


def test_main_did_you_mean_for_a_typo(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["graph", "-s", "diamnod"])
    assert info.value.code == 2
    assert "did you mean 'diamond'?" in capsys.readouterr().err


def test_main_invalid_scenario_exit_2_with_every_problem(
    project: Path, write_scenario: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    write_scenario("scenarios/unit/scenario_broken.yaml", BROKEN)
    with pytest.raises(SystemExit) as info:
        main(["graph", "-s", "broken"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "envctl: error: scenarios/unit/scenario_broken.yaml:2: dependency_mode: 'reel' is not"
        " valid; input should be 'real' or 'mock'",
        "scenarios/unit/scenario_broken.yaml:4: external_services.kafka.imgae: unknown key"
        " — did you mean 'image'?",
    ]


def test_main_validate_exit_codes(
    project: Path, write_scenario: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as ok:
        main(["validate"])
    assert ok.value.code == 0
    write_scenario("scenarios/unit/scenario_broken.yaml", BROKEN)
    with pytest.raises(SystemExit) as bad:
        main(["validate"])
    assert bad.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


def test_main_bad_setting_is_one_line_exit_2(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ENVCTL_TIMEOUT_SCALE", "fast")
    with pytest.raises(SystemExit) as info:
        main(["validate"])
    assert info.value.code == 2
    assert capsys.readouterr().err == (
        "envctl: error: ENVCTL_TIMEOUT_SCALE='fast' is not a number between 0 and 1000;"
        " set it to e.g. 2 or unset it\n"
    )


def test_main_missing_scenarios_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--scenarios-dir", str(tmp_path / "none"), "graph", "-s", "x"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"envctl: error: scenarios directory {tmp_path / 'none'} does not exist")
    assert len(err.splitlines()) == 1


def test_main_usage_error_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["graph"])
    assert info.value.code == 2
    assert "Missing option '--scenario'" in capsys.readouterr().err


def test_main_help_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for command in ("validate", "graph", "schema", "up", "down", "status"):
        assert command in out
