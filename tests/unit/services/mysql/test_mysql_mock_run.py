"""``type: mysql`` in mock mode: the sql step, ``expected: rows`` and seed files run against
the SQL double, with no Docker; the sql step finds a mysql service like a postgres one."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from envctl.errors import ConfigError
from envctl.runner import Runner
from envctl.scenario import load_scenario
from envctl.scenario.plan import plan_scenario
from envctl.settings import Settings

SCENARIO = """
name: mysql_mock
external_services:
  db:
    type: mysql
    seed:
      - {from: data/schema.sql}
      - {from: data/customers.csv, table: customers}
steps:
  - sql: {query: "SELECT name FROM customers WHERE tier IS NULL", expect: [{name: bob}]}
  - sql: {query: "INSERT INTO customers (id, name) VALUES (%s, %s)", params: [3, cy]}
expected:
  - rows: {customers: 3}
"""


def _no_docker() -> object:
    raise AssertionError("mock mode must not touch Docker")


def _write(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")


def test_mock_run_seeds_the_double_and_checks_rows(tmp_path: Path) -> None:
    scenarios = tmp_path / "scenarios"
    _write(
        scenarios,
        {
            "unit/scenario_mysql_mock.yaml": SCENARIO,
            "unit/data/schema.sql": "CREATE TABLE customers (id INT, name TEXT, tier TEXT);\n",
            "unit/data/customers.csv": "id,name,tier\n1,ada,gold\n2,bob,\n",
        },
    )
    settings = Settings.load(environ={}, cwd=tmp_path)
    runner = Runner(settings, runtime_factory=_no_docker, runs_root=tmp_path / "runs")  # type: ignore[arg-type]
    outcome = runner.run(load_scenario(scenarios / "unit/scenario_mysql_mock.yaml", {}))
    assert outcome.status == "passed", outcome.details()
    assert outcome.mode_label == "mock"
    assert [e["status"] for e in outcome.expectations] == ["passed"]


def _scenario(tmp_path: Path, services: str, steps: str) -> object:
    path = tmp_path / "scenario_p.yaml"
    path.write_text(
        f"name: p\nexternal_services:\n{textwrap.indent(services, '  ')}\nsteps:\n{steps}\n"
    )
    return load_scenario(path, {})


def test_sql_step_needs_a_name_when_two_sql_services_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="has 2, name one with service:"):
        _scenario(tmp_path, "a: {type: mysql}\nb: {type: postgres}", "  - sql: {query: SELECT 1}")
    named = _scenario(
        tmp_path, "a: {type: mysql}\nb: {type: postgres}", "  - sql: {service: a, query: SELECT 1}"
    )
    assert plan_scenario(named).steps[0].service == "a"  # type: ignore[arg-type]


def test_sql_step_refuses_a_service_that_is_not_sql(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match="'c' is a redis service; sql needs a mysql or postgres service"
    ):
        _scenario(tmp_path, "c: {type: redis}", "  - sql: {service: c, query: SELECT 1}")


def test_a_seed_into_an_undeclared_database_is_refused_at_load_time(tmp_path: Path) -> None:
    path = tmp_path / "scenario_bad.yaml"
    (tmp_path / "x.sql").write_text("SELECT 1;\n")
    path.write_text(
        "name: bad\n"
        "external_services:\n"
        "  db:\n"
        "    type: mysql\n"
        "    databases: [reports]\n"
        "    seed:\n"
        "      - {from: x.sql, database: reports}\n"
        "      - {from: x.sql, database: report}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_scenario(path, {})
    message = str(caught.value)
    assert "scenario_bad.yaml:8" in message
    assert "database 'report' is neither the service's database nor in its databases" in message
    assert "'reports'" not in message
