"""Mock runs start from the same seed data as real runs, and the README example runs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from envctl.runner import Runner
from envctl.settings import Settings

REPO = Path(__file__).resolve().parents[3]


def test_readme_steps_example_passes_in_mock_mode(tmp_path: Path) -> None:
    settings = Settings.load(environ={}, cwd=REPO)
    runner = Runner(settings, runtime_factory=_no_docker, runs_root=tmp_path / "runs")  # type: ignore[arg-type]
    scenario = settings.load_scenario(REPO / "scenarios" / "unit" / "scenario_readme_steps.yaml")
    outcome = runner.run(scenario)
    assert outcome.status == "passed", outcome.details()
    assert [s.status for s in outcome.steps] == ["passed"] * 4
    assert "seed" in outcome.phases
    readme = (REPO / "README.md").read_text()
    for line in scenario.source.read_text().splitlines():  # type: ignore[union-attr]
        if line.startswith("  - "):
            assert line in readme, f"README's example lost the step {line!r}"


def test_every_seed_kind_reaches_the_doubles(
    runner: Runner, settings: Settings, scenario_file: Callable[[str, str], Path]
) -> None:
    base = settings.scenarios_dir
    (base / "data").mkdir(parents=True, exist_ok=True)
    (base / "data" / "orders.jsonl").write_text(
        '{"key": "a", "value": {"n": 1}, "headers": {"h": "x"}}\n{"key": "b", "value": "two"}\n'
    )
    (base / "data" / "schema.sql").write_text("CREATE TABLE people (name TEXT, age INT);")
    (base / "data" / "people.csv").write_text("name,age\nada,36\nalan,41\n")
    (base / "data" / "keys.yaml").write_text("greeting: hello\nprofile: {name: ada}\n")
    path = scenario_file(
        "unit/scenario_seeded.yaml",
        """
        name: seeded
        external_services:
          kafka:
            type: kafka
            topics: [orders]
            seed: [{topic: orders, from: ../data/orders.jsonl}]
          db:
            type: postgres
            seed:
              - {from: ../data/schema.sql}
              - {from: ../data/people.csv, table: people}
          cache:
            type: redis
            seed: [{from: ../data/keys.yaml}]
        steps:
          - expect_message: {topic: orders, match: {key: b, value: two}, within: 1}
          - sql:
              query: SELECT name FROM people ORDER BY age
              expect: [{name: ada}, {name: alan}]
          - redis: {command: [GET, greeting], expect: hello}
          - redis: {command: [HGET, profile, name], expect: ada}
        expected:
          messages: {orders: {equals: 2}}
        """,
    )
    outcome = runner.run(settings.load_scenario(path))
    assert outcome.status == "passed", outcome.details()


def _no_docker() -> object:
    raise AssertionError("mock mode must not touch Docker")
