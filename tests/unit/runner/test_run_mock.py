"""Runs in mock mode: steps, failures that say where, expectations, the audit log."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from envctl.errors import ConfigError
from envctl.runner import Runner
from envctl.scenario import load_scenario
from envctl.settings import Settings

KAFKA_PG_REDIS = """
name: {name}
external_services:
  kafka: {{type: kafka, topics: [orders]}}
  db: {{type: postgres}}
  cache: {{type: redis}}
steps:
{steps}
{expected}
"""


def _run(
    runner: Runner,
    scenario_file: Callable[[str, str], Path],
    steps: str,
    expected: str = "",
    **kwargs: object,
):  # type: ignore[no-untyped-def]
    path = scenario_file(
        "unit/scenario_t.yaml", KAFKA_PG_REDIS.format(name="t", steps=steps, expected=expected)
    )
    return runner.run(load_scenario(path, {}), **kwargs)  # type: ignore[arg-type]


def test_passing_run_records_everything(
    runner: Runner, scenario_file: Callable[[str, str], Path]
) -> None:
    outcome = _run(
        runner,
        scenario_file,
        """
  - publish: {id: p, topic: orders, key: k1, value: {n: 1}}
  - expect_message: {topic: orders, match: {key: k1, value.n: 1}, within: 2}
  - redis: {command: [SET, "k:${run.id}", "${steps.p.topic}"]}
  - redis: {command: [GET, "k:${run.id}"], expect: orders}
""",
        "expected: {messages: {orders: 1}}",
    )
    assert outcome.status == "passed", outcome.details()
    assert outcome.mode_label == "mock"
    assert [s.status for s in outcome.steps] == ["passed"] * 4
    assert outcome.steps[2].inputs["command"] == ["SET", f"k:{outcome.run_id}", "orders"]
    events = [
        json.loads(line)
        for line in (Path(outcome.run_dir or "") / "audit.jsonl").read_text().splitlines()
    ]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "run.start" and kinds[-1] == "run.end"
    decision = next(e for e in events if e["event"] == "decision.mode")
    assert decision["mode"] == "mock" and decision["source"] == "default"
    tools = next(e for e in events if e["event"] == "decision.tools")
    assert {f["service"]: f["mode"] for f in tools["factories"]} == {
        "kafka": "mock",
        "db": "mock",
        "cache": "mock",
    }
    assert all(f["factory"] for f in tools["factories"])
    steps = [e for e in events if e["event"] == "step"]
    assert steps[0]["outputs"]["topic"] == "orders"
    assert any(e["event"] == "phase" and e["phase"] == "steps" for e in events)
    assert events[-1]["status"] == "passed"


def test_failed_step_says_which_what_and_where(
    runner: Runner, scenario_file: Callable[[str, str], Path]
) -> None:
    outcome = _run(
        runner,
        scenario_file,
        """
  - publish: {topic: orders, key: a, value: {id: 1}}
  - expect_message: {topic: orders, match: {value.id: 2}, within: 0.3}
  - sleep: 0
""",
    )
    assert outcome.status == "failed"
    failed = outcome.steps[1]
    assert failed.status == "failed"
    assert failed.where == "service 'kafka', topic 'orders'"
    assert "a message matching" in (failed.expected or "")
    assert "1 message(s), none matching" in (failed.seen or "")
    assert outcome.steps[2].status == "skipped"
    assert "step 1 (expect_message, " in (outcome.reason or "")
    assert "scenario_t.yaml:9) failed: service 'kafka', topic 'orders': expected" in (
        outcome.reason or ""
    ), outcome.reason


def test_sql_and_expected_failures(
    runner: Runner, scenario_file: Callable[[str, str], Path]
) -> None:
    outcome = _run(
        runner,
        scenario_file,
        """
  - sql: {query: "CREATE TABLE t (id INTEGER, name TEXT)"}
  - sql: {query: "INSERT INTO t (id, name) VALUES (%s, %s)", params: [1, a]}
  - sql: {query: "SELECT id, name FROM t", expect: [{id: 1, name: a}], expect_rows: 1}
""",
        "expected: {rows: {t: 2}, keys: {missing: {exists: true}}}",
    )
    assert outcome.status == "failed"
    assert [e["status"] for e in outcome.expectations] == ["failed", "failed"]
    assert outcome.expectations[0]["where"] == "service 'db', table 't'"
    assert outcome.expectations[0]["seen"] == "1"
    assert "expected rows in 't': exactly 2" in (outcome.reason or "")


def test_unknown_variable_and_tool_errors_fail_the_step(
    runner: Runner, scenario_file: Callable[[str, str], Path]
) -> None:
    outcome = _run(runner, scenario_file, "  - redis: {command: [GET, '${steps.nope.x}']}")
    assert outcome.status == "failed"
    assert "unknown variable" in (outcome.steps[0].error or "")
    outcome = _run(runner, scenario_file, "  - publish: {topic: not_declared, value: 1}")
    assert outcome.status == "failed"
    assert "not_declared" in (outcome.steps[0].error or "")


def test_unsupported_redis_command_is_a_config_error(
    runner: Runner, scenario_file: Callable[[str, str], Path]
) -> None:
    outcome = _run(runner, scenario_file, "  - redis: {command: [FLUSHALL]}")
    assert outcome.status == "failed"
    assert "not supported" in (outcome.steps[0].error or "")


def test_container_steps_in_mock_mode_skip_with_the_reason(
    runner: Runner, scenario_file: Callable[[str, str], Path]
) -> None:
    path = scenario_file(
        "unit/scenario_app.yaml",
        """
        name: app
        external_services:
          app: {type: generic, image: x, probe: {http: {port: 80}}}
        steps:
          - http: {service: app, path: /}
        """,
    )
    outcome = runner.run(load_scenario(path, {}))
    assert outcome.status == "skipped"
    assert "has no mock" in (outcome.reason or "")
    assert "--force-dependency-mode real" in (outcome.reason or "")


def test_invalid_step_is_a_config_error_outcome(
    runner: Runner, scenario_file: Callable[[str, str], Path]
) -> None:
    path = scenario_file(
        "unit/scenario_t.yaml",
        KAFKA_PG_REDIS.format(name="t", steps="  - publish: {topik: x}", expected=""),
    )
    with pytest.raises(ConfigError, match="did you mean 'topic'"):
        load_scenario(path, {})  # `validate` refuses it: it never reaches the runner
    # Steps given at run time (replay) are checked by the runner the same way.
    good = load_scenario(
        scenario_file(
            "unit/scenario_u.yaml",
            KAFKA_PG_REDIS.format(name="u", steps="  - sleep: 0", expected=""),
        ),
        {},
    )
    outcome = runner.run(good, steps=[{"publish": {"topik": "x"}}])
    assert outcome.status == "error"
    assert "did you mean 'topic'" in (outcome.reason or "")


def test_call_steps_sync_and_async(
    runner: Runner, scenario_file: Callable[[str, str], Path], tmp_path: Path
) -> None:
    (tmp_path / "scenarios" / "unit" / "t_steps.py").parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / "scenarios" / "unit" / "t_steps.py").write_text(
        "async def put(ctx, key):\n"
        "    await ctx.tool('cache').aio.set(key, ctx.run_id)\n"
        "    return {'key': key}\n"
        "def boom(ctx):\n"
        "    assert 1 == 2, 'boom'\n"
    )
    outcome = _run(
        runner,
        scenario_file,
        """
  - call: {id: c, function: "t_steps:put", args: {key: k1}}
  - redis: {command: [GET, "${steps.c.key}"], expect: "${run.id}"}
  - call: "t_steps:boom"
""",
    )
    assert [s.status for s in outcome.steps] == ["passed", "passed", "failed"]
    assert "AssertionError: boom" in (outcome.steps[2].error or "")


def test_a_sync_call_step_that_never_returns_fails_at_its_timeout(
    runner: Runner, scenario_file: Callable[[str, str], Path], tmp_path: Path
) -> None:
    """Issue 10 §3b: `call:` steps were bounded for async functions only."""
    (tmp_path / "scenarios" / "unit").mkdir(parents=True, exist_ok=True)
    (tmp_path / "scenarios" / "unit" / "t_stuck.py").write_text(
        "import threading\n"
        "RELEASE = threading.Event()\n"
        "def stuck(ctx):\n"
        # released by the test once the step has failed; the bound only keeps a broken
        # step timeout from hanging the test (the step then passes, and the test fails)
        "    RELEASE.wait(timeout=30)\n"
    )
    outcome = _run(runner, scenario_file, '  - call: {function: "t_stuck:stuck", timeout: 0.5}')
    import t_stuck  # type: ignore[import-not-found]  # the step's module, from the scenario folder

    t_stuck.RELEASE.set()
    assert [s.status for s in outcome.steps] == ["failed"]
    assert "t_stuck:stuck to finish within 0.5s" in (outcome.steps[0].error or "")


def test_an_open_environment_names_its_physical_resources(
    runner: Runner, scenario_file: Callable[[str, str], Path], settings: Settings
) -> None:
    """The README's `env.namespace.topic("orders")` works on what the plugin hands out."""
    path = scenario_file(
        "unit/scenario_names.yaml",
        "name: names\nexternal_services:\n  kafka: {type: kafka, topics: [orders]}\n",
    )
    scenario = settings.load_scenario(path)
    with runner.open_environment(scenario) as env:
        assert env.namespace.topic("orders") == f"envctl.{env.run_id}.orders"
        assert env.namespace.key("user:1") == f"envctl:{env.run_id}:user:1"
