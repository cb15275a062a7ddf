"""``envctl ci github``, the Actions output helpers, ``envctl compare`` and health checks.

Every generated workflow variant (strategy x selection) is checked by actionlint and by
check-jsonschema's GitHub workflow schema, as installed by the dev dependencies.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from doc_examples import EXAMPLES, REPO, check_doc, commands

from envctl.cli import cli
from envctl.errors import ConfigError
from envctl.export import actions
from envctl.export.github import Selection, Strategy, WorkflowOptions, github_workflow
from envctl.export.health import HealthCheck, NoHealthCheck, duration, health_check
from envctl.report.compare import (
    classify,
    compare,
    format_comparison,
    read_result,
    result_file,
)
from envctl.scenario import Scenario
from envctl.services.base import PhaseTimeouts

GITHUB_EXAMPLE = EXAMPLES / "github"
PROJECT_WORKFLOW = REPO / ".github" / "workflows" / "ci.yml"
PROJECT_WORKFLOW_ARGS = ["ci", "github", "--all", "--install", "pip install -e .", "-o"]

SELECTIONS = {
    "scenario": ["--scenario", "orders_db", "--scenario", "orders_app"],
    "category": ["--category", "integration"],
    "all": ["--all"],
}


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed; pip install -e '.[dev]' installs it")
    return path


def _lint(workflow: Path) -> None:
    """actionlint and the GitHub workflow JSON Schema both accept the file."""
    lint = subprocess.run(
        [_tool("actionlint"), "-no-color", str(workflow)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    schema = subprocess.run(
        [
            _tool("check-jsonschema"),
            "--builtin-schema",
            "vendor.github-workflows",
            str(workflow),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert schema.returncode == 0, schema.stdout + schema.stderr


@pytest.fixture
def example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of docs/examples/github (a small project) as the working directory."""
    project = tmp_path / "project"
    shutil.copytree(GITHUB_EXAMPLE / "scenarios", project / "scenarios")
    monkeypatch.chdir(project)
    return project


def _generate(args: list[str]) -> tuple[dict[str, Any], str]:
    result = CliRunner().invoke(cli, ["ci", "github", *args])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return yaml.safe_load(result.stdout), result.stderr


# -- every variant passes actionlint and the schema ---------------------------------------------


@pytest.mark.parametrize("strategy", ["envctl", "services"])
@pytest.mark.parametrize("selection", sorted(SELECTIONS))
def test_every_variant_passes_actionlint_and_the_schema(
    example: Path, strategy: str, selection: str
) -> None:
    target = example / ".github" / "workflows" / f"{selection}-{strategy}.yml"
    args = [*SELECTIONS[selection], "--strategy", strategy, "--profile", "ci", "-o", str(target)]
    result = CliRunner().invoke(cli, ["ci", "github", *args])
    assert result.exit_code == 0, result.output + repr(result.exception)
    _lint(target)


# -- what the jobs do ----------------------------------------------------------------------------


def test_unit_job_runs_the_selection_against_mocks(example: Path) -> None:
    everything, _ = _generate(["--all"])
    steps = [s.get("run") for s in everything["jobs"]["unit"]["steps"]]
    assert "envctl run-all --category unit --force-dependency-mode mock" in steps
    assert "services" not in everything["jobs"]["unit"]

    category, _ = _generate(["--category", "integration"])
    runs = [s.get("run") for s in category["jobs"]["unit"]["steps"]]
    assert "envctl run-all --category integration --force-dependency-mode mock" in runs

    named, _ = _generate(["--scenario", "orders_db"])
    runs = [s.get("run") for s in named["jobs"]["unit"]["steps"]]
    assert "envctl run --scenario orders_db --force-dependency-mode mock" in runs


def test_envctl_strategy_lets_envctl_start_the_services(example: Path) -> None:
    workflow, warnings = _generate(["--all", "--profile", "ci"])
    job = workflow["jobs"]["integration"]
    assert "services" not in job
    assert job["env"] == {"ENVCTL_PROFILE": "ci"}
    runs = [s.get("run") for s in job["steps"]]
    assert "pip install envctl" in runs
    assert "envctl run-all --category integration" in runs
    assert warnings == ""
    assert set(workflow["jobs"]) == {"unit", "integration"}
    assert workflow[True]["push"] == {"branches": ["main"]}  # YAML 1.1 reads `on` as true


def test_services_strategy_makes_job_services_and_attaches_in_external_mode(
    example: Path,
) -> None:
    workflow, _ = _generate(["--scenario", "orders_db", "--strategy", "services"])
    job = workflow["jobs"]["integration-orders_db"]
    services = job["services"]
    assert list(services) == ["kafka", "postgres", "redis"]
    postgres = services["postgres"]
    assert postgres["image"] == "postgres:16"
    assert postgres["ports"] == ["127.0.0.1:5432:5432"]
    assert postgres["env"] == {
        "POSTGRES_USER": "postgres",
        "POSTGRES_PASSWORD": "envctl",
        "POSTGRES_DB": "orders",
    }
    assert postgres["options"].startswith(
        '--health-cmd "pg_isready -h 127.0.0.1 -p 5432 -U postgres -d orders" '
    )
    for option in ("--health-interval", "--health-timeout", "--health-retries"):
        assert option in postgres["options"]
    assert "--health-start-period 60s" in postgres["options"]
    kafka_env = services["kafka"]["env"]
    assert "EXTERNAL://127.0.0.1:9092" in kafka_env["KAFKA_ADVERTISED_LISTENERS"]
    assert "INTERNAL://kafka:19092" in kafka_env["KAFKA_ADVERTISED_LISTENERS"]
    assert job["env"] == {
        "ENVCTL_PROFILE": "external",
        "ENVCTL_KAFKA_URL": "127.0.0.1:9092",
        "ENVCTL_POSTGRES_URL": "postgresql://postgres:envctl@127.0.0.1:5432/orders",
        "ENVCTL_REDIS_URL": "redis://127.0.0.1:6379/0",
    }
    assert [s.get("run") for s in job["steps"]][3] == "envctl run --scenario orders_db"


def test_services_that_cannot_be_job_services_stay_with_envctl_and_are_named(
    example: Path,
) -> None:
    workflow, warnings = _generate(
        ["--scenario", "orders_app", "--strategy", "services", "--profile", "ci"]
    )
    job = workflow["jobs"]["integration-orders_app"]
    assert list(job["services"]) == ["postgres"]
    assert "ENVCTL_APP_URL" not in job["env"]
    assert job["env"]["ENVCTL_PROFILE"] == "ci,external"
    lines = warnings.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("envctl: warning: scenario 'orders_app': service 'app' ")
    assert "depends on postgres (job services all start at once)" in lines[0]
    assert "sets a command" in lines[0]
    assert "--strategy envctl" in lines[0]


def test_mock_scenarios_need_no_job_services(example: Path) -> None:
    workflow, _ = _generate(["--category", "unit", "--strategy", "services"])
    job = workflow["jobs"]["integration"]
    assert "services" not in job
    assert [s.get("run") for s in job["steps"]][3] == "envctl run --scenario orders_mock"


def test_job_services_honour_pins_overrides_and_keep_ports_apart(load_text: Any) -> None:
    from envctl.settings import Settings

    scenario: Scenario = load_text(
        """
        name: two_dbs
        dependency_mode: real
        external_services:
          main: {type: postgres}
          replica: {type: postgres}
          cache: {type: redis, ports: ["16379:6379"]}
          broker: {type: kafka, image: envctl-test/kafka:tansu}
        """
    )
    settings = Settings.load(environ={"ENVCTL_IMAGE_POSTGRES": "mirror.local/postgres:16"})
    workflow = github_workflow(
        [scenario],
        Selection(scenarios=("two_dbs",)),
        WorkflowOptions(strategy=Strategy.SERVICES),
        settings,
    )
    services = workflow.data["jobs"]["integration-two_dbs"]["services"]
    assert services["main"]["ports"] == ["127.0.0.1:5432:5432"]
    assert services["replica"]["ports"] == ["127.0.0.1:5433:5432"]
    assert services["main"]["image"] == "mirror.local/postgres:16"
    assert services["cache"]["ports"] == ["127.0.0.1:16379:6379"]
    # Tansu's image has no shell, and --health-cmd always runs through one.
    assert "options" not in services["broker"]
    assert services["broker"]["env"]["ADVERTISED_LISTENER_URL"] == "tcp://127.0.0.1:9092"
    env = workflow.data["jobs"]["integration-two_dbs"]["env"]
    assert env["ENVCTL_REPLICA_URL"] == "postgresql://postgres:envctl@127.0.0.1:5433/envctl"
    assert env["ENVCTL_CACHE_URL"] == "redis://127.0.0.1:16379/0"


def test_an_unknown_category_is_an_error_naming_the_categories(example: Path) -> None:
    result = CliRunner().invoke(cli, ["ci", "github", "--category", "mixed"])
    assert isinstance(result.exception, ConfigError)
    assert "categories found: integration, unit" in str(result.exception)


def test_exactly_one_selection_is_required(example: Path) -> None:
    result = CliRunner().invoke(cli, ["ci", "github", "--all", "--category", "unit"])
    assert result.exit_code == 2
    assert "exactly one of" in result.output


def test_check_says_when_a_workflow_is_out_of_date(example: Path) -> None:
    target = example / "ci.yml"
    runner = CliRunner()
    assert runner.invoke(cli, ["ci", "github", "--all", "-o", str(target)]).exit_code == 0
    ok = runner.invoke(cli, ["ci", "github", "--all", "-o", str(target), "--check"])
    assert ok.exit_code == 0, ok.output
    target.write_text(target.read_text() + "# edited\n")
    stale = runner.invoke(cli, ["ci", "github", "--all", "-o", str(target), "--check"])
    assert "is out of date; regenerate it: envctl ci github --all -o" in str(stale.exception)


# -- committed files -------------------------------------------------------------------------------


def test_the_projects_own_workflow_is_up_to_date(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    target = ".github/workflows/ci.yml"
    result = CliRunner().invoke(cli, [*PROJECT_WORKFLOW_ARGS, target, "--check"])
    assert result.exit_code == 0, (
        f"{result.exception}; run: envctl {' '.join(PROJECT_WORKFLOW_ARGS)} {target}"
    )
    _lint(PROJECT_WORKFLOW)


def test_docs_examples_are_the_files_and_the_files_are_current(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    files = check_doc(REPO / "docs" / "github-actions.md")
    assert GITHUB_EXAMPLE / "commands.sh" in files
    monkeypatch.chdir(GITHUB_EXAMPLE)
    stderr = ""
    for args in commands(GITHUB_EXAMPLE / "commands.sh"):
        result = CliRunner().invoke(cli, [*args, "--check"])
        assert result.exit_code == 0, f"envctl {' '.join(args)}: {result.exception}"
        stderr += result.stderr
    assert (GITHUB_EXAMPLE / "services-warning.txt").read_text() in stderr
    for workflow in ("envctl.yml", "services.yml"):
        _lint(GITHUB_EXAMPLE / workflow)
    _lint(EXAMPLES / "migration" / "before-ci.yml")  # docs/migration.md's "before"


# -- output inside Actions -------------------------------------------------------------------------


def test_workflow_commands_escape_messages_and_properties() -> None:
    assert actions.group("kafka_real_basic") == "::group::kafka_real_basic"
    assert actions.endgroup() == "::endgroup::"
    assert (
        actions.error("expected 1\nseen 2 (100%)", file="scenarios/a,b.yaml", line=12)
        == "::error file=scenarios/a%2Cb.yaml,line=12::expected 1%0Aseen 2 (100%25)"
    )
    assert (
        actions.error("bad", file="s.yaml", line=3, title="step 2: publish")
        == "::error file=s.yaml,line=3,title=step 2%3A publish::bad"
    )
    assert actions.warning("slow") == "::warning::slow"
    assert actions.notice("done", title="envctl") == "::notice title=envctl::done"


def test_grouping_only_inside_actions() -> None:
    printed: list[str] = []
    with actions.grouped("s", printed.append, {"GITHUB_ACTIONS": "true"}):
        printed.append("inside")
    assert printed == ["::group::s", "inside", "::endgroup::"]
    printed.clear()
    with actions.grouped("s", printed.append, {}):
        printed.append("inside")
    assert printed == ["inside"]
    assert actions.in_github_actions({"GITHUB_ACTIONS": "true"})
    assert not actions.in_github_actions({"GITHUB_ACTIONS": "false"})


def test_step_summary_is_a_markdown_table_appended_to_the_file(tmp_path: Path) -> None:
    result = {
        "run_id": "20260101-abc",
        "profile": "ci",
        "scenarios": {
            "orders_db": {"status": "passed", "seconds": 3.21},
            "orders_app": {"status": "failed", "seconds": 1.0, "reason": "a | b\nc"},
        },
    }
    markdown = actions.summary_markdown(result)
    assert markdown.splitlines() == [
        "### envctl: run `20260101-abc` (profile `ci`)",
        "",
        "1 failed, 1 passed",
        "",
        "| scenario | status | seconds | reason |",
        "| --- | --- | ---: | --- |",
        "| orders_db | ✅ passed | 3.2 | |",
        "| orders_app | ❌ failed | 1.0 | a \\| b c |",
    ]
    summary = tmp_path / "summary.md"
    summary.write_text("# earlier step\n")
    path = actions.summary_path({"GITHUB_STEP_SUMMARY": str(summary)})
    assert path == summary
    actions.append_summary(path, markdown)
    assert summary.read_text() == "# earlier step\n" + markdown
    assert actions.summary_path({}) is None


# -- envctl compare --------------------------------------------------------------------------------


def _write_run(root: Path, run_id: str, profile: str, scenarios: dict[str, Any]) -> Path:
    folder = root / run_id
    folder.mkdir(parents=True)
    data = {"run_id": run_id, "profile": profile, "scenarios": scenarios}
    (folder / "result.json").write_text(json.dumps(data))
    return folder


@pytest.fixture
def runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / ".envctl" / "runs"
    _write_run(
        root,
        "run-a",
        "ci",
        {
            "steady": {"status": "passed", "seconds": 2.0},
            "breaks": {"status": "passed", "seconds": 1.0},
            "fixed": {"status": "failed", "seconds": 1.0, "reason": "boom"},
            "slows": {"status": "passed", "seconds": 2.0},
            "gone": {"status": "passed", "seconds": 1.0},
        },
    )
    _write_run(
        root,
        "run-b",
        "staging",
        {
            "steady": {"status": "passed", "seconds": 2.4},
            "breaks": {"status": "failed", "seconds": 1.1},
            "fixed": {"status": "passed", "seconds": 0.9},
            "slows": {"status": "passed", "seconds": 6.0},
            "new": {"status": "skipped", "seconds": 0.0},
        },
    )
    monkeypatch.chdir(tmp_path)
    return root


def test_compare_classifies_every_scenario(runs: Path) -> None:
    comparison = compare(
        read_result(result_file("run-a", runs)), read_result(result_file("run-b", runs))
    )
    changes = {s.name: s.change for s in comparison.scenarios}
    assert changes == {
        "steady": "same",
        "breaks": "broke",
        "fixed": "fixed",
        "slows": "slower",
        "gone": "removed",
        "new": "added",
    }
    assert [s.name for s in comparison.regressions] == ["breaks", "gone"]
    assert comparison.scenarios[3].delta == pytest.approx(4.0)
    text = format_comparison(comparison)
    assert text.splitlines()[0].split() == [
        "scenario",
        "A:",
        "run-a",
        "(ci)",
        "B:",
        "run-b",
        "(staging)",
        "Δ",
    ]
    breaks = next(line for line in text.splitlines() if line.startswith("breaks"))
    assert breaks.split() == ["breaks", "passed", "1.00s", "failed", "1.10s", "+0.10s", "broke"]
    assert text.splitlines()[-1] == "1 added, 1 broke, 1 fixed, 1 removed, 1 same, 1 slower"


def test_classify_ignores_small_time_jitter() -> None:
    assert classify("passed", "passed", 0.1, 0.4) == "same"  # 4x, but 0.3 s
    assert classify("passed", "passed", 10.0, 12.0) == "same"  # 2 s, but 1.2x
    assert classify("passed", "passed", 6.0, 2.0) == "faster"
    assert classify("failed", "error", 1.0, 1.0) == "changed"


def test_compare_command_prints_text_json_and_fails_on_regression(runs: Path) -> None:
    runner = CliRunner()
    text = runner.invoke(cli, ["compare", "run-a", "run-b"])
    assert text.exit_code == 0, text.output
    assert "slower" in text.stdout
    as_json = runner.invoke(cli, ["compare", "run-a", str(runs / "run-b"), "--json"])
    data = json.loads(as_json.stdout)
    assert data["a"] == {"run_id": "run-a", "profile": "ci"}
    assert data["scenarios"]["slows"]["delta_seconds"] == 4.0
    assert data["regressions"] == ["breaks", "gone"]
    failing = runner.invoke(cli, ["compare", "run-a", "run-b", "--fail-on-regression"])
    assert failing.exit_code == 1
    assert "envctl: regressions: breaks, gone" in failing.stderr
    by_file = runner.invoke(cli, ["compare", str(runs / "run-a" / "result.json"), "run-a"])
    assert by_file.exit_code == 0 and "5 same" in by_file.stdout


def test_compare_names_the_runs_it_knows(runs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match=r"no recorded run 'run-c' .*: run-b, run-a"):
        result_file("run-c", runs)
    (runs / "half").mkdir()
    with pytest.raises(ConfigError, match=r"has no result\.json"):
        result_file("half", runs)
    (runs / "half" / "result.json").write_text('{"scenarios": []}')
    with pytest.raises(ConfigError, match="expected"):
        read_result(result_file("half", runs))
    monkeypatch.setenv("ENVCTL_STATE_DIR", str(runs.parent))
    result = CliRunner().invoke(cli, ["compare", "run-a", "nope"])
    assert isinstance(result.exception, ConfigError)


# -- health checks ---------------------------------------------------------------------------------


HealthOf = Callable[[str], "HealthCheck | NoHealthCheck"]


@pytest.fixture
def health_of(load_text: Any) -> HealthOf:
    def health(service: str) -> HealthCheck | NoHealthCheck:
        scenario: Scenario = load_text(
            f"""
            name: h
            external_services:
              app:
                type: generic
                image: example/app:1
            {service}
            """
        )
        spec = scenario.external_services["app"]
        return health_check(spec, "example/app:1", PhaseTimeouts(health_check=45))

    return health


def test_generic_probes_become_health_checks(health_of: HealthOf) -> None:
    exec_list = health_of("    probe: {exec: [pg_isready, -h, db]}")
    assert isinstance(exec_list, HealthCheck)
    assert exec_list.test == ("CMD", "pg_isready", "-h", "db")
    exec_text = health_of("    probe: {exec: 'test -f /ready'}")
    assert isinstance(exec_text, HealthCheck)
    assert exec_text.test == ("CMD-SHELL", "test -f /ready")
    http = health_of("    probe: {http: {port: 8080, path: /health}}")
    assert isinstance(http, HealthCheck)
    assert "curl -fsS -o /dev/null http://127.0.0.1:8080/health" in http.command_line
    status = health_of("    probe: {http: {port: 8080, path: /h, status: 204}}")
    assert isinstance(status, HealthCheck)
    assert status.command_line.endswith("| grep -qx 204")
    tcp = health_of("    probe: {tcp: 5000}")
    assert isinstance(tcp, HealthCheck)
    assert tcp.command_line.startswith("nc -z 127.0.0.1 5000 ||")
    assert health_of("    probe: {log: ready}") == NoHealthCheck(
        "a log probe has no health-check form"
    )
    assert isinstance(health_of(""), NoHealthCheck)


def test_health_check_forms() -> None:
    check = HealthCheck(("CMD", "pg_isready"), start_period=60)
    assert check.compose() == {
        "test": ["CMD", "pg_isready"],
        "interval": "10s",
        "timeout": "5s",
        "retries": 3,
        "start_period": "60s",
        "start_interval": "1s",
    }
    assert check.compose(start_interval=False)["interval"] == "2s"
    assert check.docker_options() == (
        '--health-cmd "pg_isready" --health-interval 2s --health-timeout 5s '
        "--health-retries 3 --health-start-period 60s"
    )
    assert check.docker_sdk()["start_period"] == 60_000_000_000
    assert HealthCheck(("CMD", "/tansu"), start_period=1, shell=False).docker_options() is None
    assert duration(0.25) == "250ms"
    assert duration(89.2) == "90s"


# -- sharded run-all ------------------------------------------------------------------------------


@pytest.mark.parametrize("selection", ["category", "all"])
def test_sharded_workflow_runs_a_matrix_and_merges(example: Path, selection: str) -> None:
    target = example / ".github" / "workflows" / f"sharded-{selection}.yml"
    args = [*SELECTIONS[selection], "--shards", "4", "-o", str(target)]
    result = CliRunner().invoke(cli, ["ci", "github", *args])
    assert result.exit_code == 0, result.output + repr(result.exception)
    _lint(target)
    jobs = yaml.safe_load(target.read_text())["jobs"]
    shards = jobs["integration"]
    assert shards["strategy"]["matrix"]["shard"] == [1, 2, 3, 4]
    assert shards["strategy"]["fail-fast"] is False  # one failing shard does not cancel others
    runs = [step.get("run", "") for step in shards["steps"]]
    assert any("--shard ${{ matrix.shard }}/4" in run for run in runs)
    report = jobs["report"]
    assert report["needs"] == ["integration"] and report["if"] == "always()"
    merge = next(s["run"] for s in report["steps"] if "report merge" in s.get("run", ""))
    assert "--junit" in merge
    assert "--shards 4" in target.read_text().splitlines()[0]  # the header says how to remake it


def test_shards_refuse_named_scenarios_and_the_services_strategy(example: Path) -> None:
    named = CliRunner().invoke(cli, ["ci", "github", *SELECTIONS["scenario"], "--shards", "2"])
    assert named.exit_code == 2 and "--shards splits --category C or --all" in named.output
    services = CliRunner().invoke(
        cli, ["ci", "github", "--all", "--shards", "2", "--strategy", "services"]
    )
    assert services.exit_code == 2 and "--shards needs --strategy envctl" in services.output
