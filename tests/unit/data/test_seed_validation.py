"""Seed files are checked when the scenario loads: inside the scenario tree, existing, and
naming topics and databases the service declares — each problem with file and line."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from envctl.errors import ConfigError, SeedError
from envctl.scenario import Scenario, load_scenario
from envctl.seed.paths import resolve_seed_path

KAFKA = """
name: s
external_services:
  kafka:
    type: kafka
    topics: [orders]
    seed:
      - {{topic: orders, from: {path}}}
"""


def problems(path: Path, root: Path | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_scenario(path, {}, root=root)
    return str(caught.value).splitlines()


def test_seed_file_relative_to_the_scenario_file_loads(
    write_scenario: Callable[..., Path],
) -> None:
    write_scenario("scenarios/flows/data/orders.jsonl", '{"value": 1}\n')
    path = write_scenario("scenarios/flows/scenario_s.yaml", KAFKA.format(path="data/orders.jsonl"))
    scenario: Scenario = load_scenario(path, {}, root=path.parents[1])
    assert scenario.root == path.parents[1].resolve()


def test_a_path_leaving_the_scenario_tree_is_a_config_error_with_line(
    write_scenario: Callable[..., Path],
) -> None:
    write_scenario("secret.jsonl", '{"value": 1}\n')
    path = write_scenario("scenarios/scenario_s.yaml", KAFKA.format(path="../secret.jsonl"))
    (line,) = problems(path, root=path.parent)
    assert line.startswith(f"{path}:7: external_services.kafka.seed[0].from: ")
    assert "seed file '../secret.jsonl' is outside the scenario tree" in line


def test_the_scenarios_dir_is_the_tree_when_the_file_lies_under_it(
    write_scenario: Callable[..., Path],
) -> None:
    write_scenario("scenarios/data/orders.jsonl", '{"value": 1}\n')
    path = write_scenario(
        "scenarios/integration/scenario_s.yaml", KAFKA.format(path="../data/orders.jsonl")
    )
    load_scenario(path, {}, root=path.parents[1])  # sibling folder of the same tree: fine
    # loaded by path, without the scenarios dir, the file's own folder is the tree
    assert "outside the scenario tree" in problems(path)[0]
    # a scenarios dir the file is not under does not widen the tree either
    assert "outside the scenario tree" in problems(path, root=path.parents[2] / "elsewhere")[0]


def test_absolute_paths_and_symlinks_out_of_the_tree_are_refused(
    write_scenario: Callable[..., Path], tmp_path: Path
) -> None:
    outside = write_scenario("outside/orders.jsonl", '{"value": 1}\n')
    (tmp_path / "scenarios").mkdir()
    os.symlink(outside, tmp_path / "scenarios" / "link.jsonl")
    for given in (str(outside), "link.jsonl"):
        path = write_scenario("scenarios/scenario_s.yaml", KAFKA.format(path=given))
        assert "outside the scenario tree" in problems(path, root=path.parent)[0]


def test_a_missing_seed_file_is_reported(write_scenario: Callable[..., Path]) -> None:
    path = write_scenario("scenario_s.yaml", KAFKA.format(path="data/nope.jsonl"))
    (line,) = problems(path)
    assert line.endswith(
        "seed file 'data/nope.jsonl' does not exist (looked for "
        + str(path.parent / "data" / "nope.jsonl")
        + ")"
    )


def test_seed_topic_must_be_declared(write_scenario: Callable[..., Path]) -> None:
    write_scenario("o.jsonl", '{"value": 1}\n')
    path = write_scenario(
        "scenario_s.yaml", KAFKA.format(path="o.jsonl").replace("topic: orders,", "topic: ordrs,")
    )
    (line,) = problems(path)
    assert ":7: external_services.kafka.seed[0].topic: seed topic 'ordrs'" in line
    assert "did you mean 'orders'?" in line


def test_postgres_seeds_name_known_databases_and_fitting_files(
    write_scenario: Callable[..., Path],
) -> None:
    write_scenario("a.sql", "select 1;")
    write_scenario("b.csv", "id\n1\n")
    path = write_scenario(
        "scenario_s.yaml",
        """
        name: s
        external_services:
          db:
            type: postgres
            databases: [reports]
            seed:
              - {from: a.sql, database: reprots}
              - {from: b.csv}
              - {from: a.sql, table: t}
              - {from: a.txt}
        """,
    )
    found = problems(path)
    assert any("seed[0].database: database 'reprots' is neither" in p for p in found)
    assert any("seed[1]: CSV seed 'b.csv' needs table:" in p for p in found)
    assert any("seed[2]: SQL seed 'a.sql' takes no table:" in p for p in found)
    assert any("seed[3]: seed 'a.txt' must be a .sql or .csv file" in p for p in found)


def test_redis_seed_paths_are_checked_too(write_scenario: Callable[..., Path]) -> None:
    path = write_scenario(
        "s/scenario_s.yaml",
        """
        name: s
        external_services:
          cache: {type: redis, seed: [{from: ../../keys.yaml}]}
        """,
    )
    assert "outside the scenario tree" in problems(path)[0]


def test_at_run_time_a_path_is_checked_again(tmp_path: Path) -> None:
    (tmp_path / "tree").mkdir()
    (tmp_path / "x.jsonl").write_text("{}")
    with pytest.raises(SeedError, match=r"service 'kafka': seed file '\.\./x\.jsonl' is outside"):
        resolve_seed_path("../x.jsonl", tmp_path / "tree", tmp_path / "tree", "kafka")
    assert resolve_seed_path("x.jsonl", tmp_path, None, "kafka") == tmp_path / "x.jsonl"
