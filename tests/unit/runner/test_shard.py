"""Sharding run-all: the split is a partition, balanced, stable; merge rebuilds the run."""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envctl.errors import ConfigError
from envctl.report.merge import merge_results, read_shard
from envctl.runner import Runner, run_all
from envctl.runner.shard import (
    SLACK,
    ShardSpec,
    assign,
    load_durations,
    parse_shard,
    recorded_durations,
    select,
    shard_from_environment,
)

NAMES = st.lists(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz_0123456789", min_size=1, max_size=12),
    min_size=1,
    max_size=120,
    unique=True,
)
TOTALS = st.integers(min_value=1, max_value=40)
SECONDS = st.floats(min_value=0.01, max_value=600, allow_nan=False, allow_infinity=False)


@settings(max_examples=150, deadline=None)
@given(names=NAMES, total=TOTALS, data=st.data())
def test_every_scenario_runs_on_exactly_one_shard(
    names: list[str], total: int, data: st.DataObject
) -> None:
    durations = data.draw(st.dictionaries(st.sampled_from(names), SECONDS))
    picked = [select(names, ShardSpec(i, total), durations) for i in range(1, total + 1)]
    flat = [name for shard in picked for name in shard]
    assert sorted(flat) == sorted(names)  # each exactly once
    # the same split whatever the order the scenarios were found in
    assert assign(list(reversed(names)), total, durations) == assign(names, total, durations)


@settings(max_examples=150, deadline=None)
@given(data=st.data(), total=TOTALS)
def test_shards_are_balanced_by_recorded_durations(data: st.DataObject, total: int) -> None:
    names = data.draw(NAMES)
    durations = {n: data.draw(SECONDS) for n in names}
    placed = assign(names, total, durations)
    loads = [0.0] * total
    for name, shard in placed.items():
        loads[shard] += durations[name]
    mean = sum(durations.values()) / total
    # the stated tolerance: no shard above (1 + SLACK) x the mean load, plus one scenario
    assert max(loads) <= (1 + SLACK) * mean + max(durations.values()) + 1e-9


@settings(max_examples=100, deadline=None)
@given(names=NAMES, total=TOTALS)
def test_without_history_counts_are_balanced(names: list[str], total: int) -> None:
    placed = assign(names, total, {})
    counts = [list(placed.values()).count(i) for i in range(total)]
    assert max(counts) <= math.floor((1 + SLACK) * len(names) / total) + 1


def test_adding_a_scenario_moves_few_others() -> None:
    """Across many random trees, one new scenario moves a handful of the existing ones
    (a greedy longest-first split moves about 40 % of them)."""
    import random

    rng = random.Random(7)
    moved: list[float] = []
    for trial in range(60):
        names = [f"scenario_{rng.getrandbits(40):x}" for _ in range(100)]
        durations = {n: rng.lognormvariate(1, 1) for n in names}
        before = assign(names, 4, durations)
        durations[f"new_{trial}"] = rng.lognormvariate(1, 1)
        after = assign([*names, f"new_{trial}"], 4, durations)
        moved.append(sum(before[n] != after[n] for n in names) / len(names))
    assert statistics.mean(moved) <= 0.05
    assert max(moved) <= 0.25


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("3", "is not a shard; write I/N"),
        ("0/4", "shard 0 of 4 does not exist; shards are numbered 1..4"),
        ("5/4", "shard 5 of 4 does not exist"),
        ("1/0", "0 shards; choose between 1 and 1024"),
        ("1/99999", "is not a shard"),
        ("a/b", "is not a shard"),
    ],
)
def test_bad_shard_is_one_line(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_shard(text)


def test_shard_from_environment() -> None:
    assert shard_from_environment({}) is None
    assert shard_from_environment({"ENVCTL_SHARD": "2/3"}) == ShardSpec(2, 3)
    # Kubernetes Indexed Jobs count from 0
    job = {"JOB_COMPLETION_INDEX": "0", "ENVCTL_SHARD_TOTAL": "4"}
    assert shard_from_environment(job) == ShardSpec(1, 4)
    with pytest.raises(ConfigError, match="ENVCTL_SHARD_TOTAL is not set"):
        shard_from_environment({"JOB_COMPLETION_INDEX": "1"})
    with pytest.raises(ConfigError, match="shard 5 of 4 does not exist"):
        shard_from_environment({"JOB_COMPLETION_INDEX": "4", "ENVCTL_SHARD_TOTAL": "4"})


def test_durations_sources(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    for i, seconds in enumerate((2.0, 4.0)):
        (runs / f"r{i}").mkdir(parents=True)
        (runs / f"r{i}" / "result.json").write_text(
            json.dumps(
                {
                    "scenarios": {
                        "a": {"status": "passed", "seconds": seconds},
                        "b": {"status": "error", "seconds": 0.0},
                    }
                }
            )
        )
    (runs / "broken").mkdir()
    (runs / "broken" / "result.json").write_text("{not json")
    assert recorded_durations(runs) == {"a": 3.0}
    assert load_durations("history", tmp_path, runs) == {"a": 3.0}
    assert load_durations(None, tmp_path, runs) == {}  # no committed file: counts
    (tmp_path / "envctl-durations.json").write_text('{"a": 1.5}')
    assert load_durations(None, tmp_path, runs) == {"a": 1.5}
    bad = tmp_path / "bad.json"
    bad.write_text('{"a": "slow"}')
    with pytest.raises(ConfigError, match="is not a duration in seconds"):
        load_durations(str(bad), tmp_path, runs)
    with pytest.raises(ConfigError, match="does not exist; write it with `envctl report"):
        load_durations(str(tmp_path / "nope.json"), tmp_path, runs)


SCENARIO = """
name: {name}
external_services:
  kafka: {{type: kafka, topics: [t]}}
steps:
  - publish: {{topic: t, value: 1}}
expected: {{messages: {{t: {count}}}}}
"""


@pytest.fixture
def tree(scenario_file: Callable[[str, str], Path]) -> list[str]:
    names = [f"s{i}" for i in range(9)]
    for i, name in enumerate(names):
        count = 2 if i % 4 == 0 else 1  # every fourth one fails
        scenario_file(f"unit/scenario_{name}.yaml", SCENARIO.format(name=name, count=count))
    scenario_file("unit/scenario_broken.yaml", "name: broken\nexternal_services: 5\n")
    return [*names, "broken"]


def test_shards_merged_equal_one_unsharded_run(runner: Runner, tree: list[str]) -> None:
    whole = run_all(runner)
    expected = {o.name: o.status for o in whole.outcomes}
    assert set(expected) == set(tree) and "failed" in expected.values()
    parts = [run_all(runner, shard=ShardSpec(i, 4)) for i in range(1, 5)]
    assert sum(len(p.outcomes) for p in parts) == len(tree)
    merged = merge_results([read_shard(p.directory) for p in parts])
    assert {n: e["status"] for n, e in merged["scenarios"].items()} == expected
    assert merged["counts"] == whole.counts()


def test_merge_names_a_missing_shard_and_refuses_mixed_splits(
    runner: Runner, tree: list[str], scenario_file: Callable[[str, str], Path]
) -> None:
    parts = [run_all(runner, shard=ShardSpec(i, 3)) for i in range(1, 4)]
    lost = [o.name for o in parts[1].outcomes]
    with pytest.raises(ConfigError, match=r"shard 2/3 missing; its scenarios never ran: ") as err:
        merge_results([read_shard(parts[0].directory), read_shard(parts[2].directory)])
    assert all(name in str(err.value) for name in lost)
    with pytest.raises(ConfigError, match="is given twice"):
        merge_results([read_shard(p.directory) for p in (*parts, parts[0])])
    # a shard computed after a scenario was added splits differently
    scenario_file("unit/scenario_late.yaml", SCENARIO.format(name="late", count=1))
    late = run_all(runner, shard=ShardSpec(2, 3))
    with pytest.raises(ConfigError, match="was split differently"):
        merge_results(
            [
                read_shard(parts[0].directory),
                read_shard(late.directory),
                read_shard(parts[2].directory),
            ]
        )
    with pytest.raises(ConfigError, match="not a shard's result"):
        whole = run_all(runner)
        read_shard(whole.directory)


def test_cli_shards_four_ways_and_merges(
    tree: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from envctl.cli import cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ENVCTL_STATE_DIR", str(tmp_path / "state"))
    cli_runner = CliRunner()
    results = []
    for i in range(1, 5):
        out = tmp_path / f"shard{i}.json"
        done = cli_runner.invoke(cli, ["run-all", "--shard", f"{i}/4", "--json", str(out)])
        assert done.exception is None or isinstance(done.exception, SystemExit), done.output
        assert done.exit_code in (0, 1, 2), done.output
        assert f"shard {i}/4:" in done.output
        results.append(str(out))
    whole = cli_runner.invoke(cli, ["run-all", "--json", str(tmp_path / "whole.json")])
    merged = cli_runner.invoke(
        cli,
        [
            "report",
            "merge",
            *results,
            "--json",
            str(tmp_path / "m.json"),
            "--junit",
            str(tmp_path / "m.xml"),
        ],
    )
    assert merged.exit_code == whole.exit_code == 2, merged.output
    want = json.loads((tmp_path / "whole.json").read_text())["scenarios"]
    got = json.loads((tmp_path / "m.json").read_text())["scenarios"]
    assert {n: e["status"] for n, e in got.items()} == {n: e["status"] for n, e in want.items()}
    assert (tmp_path / "m.xml").read_text().count("<testcase") == len(tree)
    missing = cli_runner.invoke(cli, ["report", "merge", *results[:3]])
    assert isinstance(missing.exception, ConfigError)  # main() prints it as one line, exit 2
    assert "shard 4/4 missing" in str(missing.exception)
    bad = cli_runner.invoke(cli, ["run-all", "--shard", "9/4"])
    assert isinstance(bad.exception, ConfigError)
    assert "shard 9 of 4 does not exist" in str(bad.exception)
    durations = cli_runner.invoke(cli, ["report", "durations"])
    assert durations.exit_code == 0
    assert set(json.loads(durations.output)) >= {"s1", "s2"}


def test_run_all_says_when_each_scenario_starts_and_ends(
    tree: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from envctl.cli import cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ENVCTL_STATE_DIR", str(tmp_path / "state"))
    done = CliRunner().invoke(cli, ["run-all", "--parallel", "1"])
    lines = [line for line in done.stderr.splitlines() if line.startswith("[")]
    runnable = len(tree) - 1  # the broken file is an error, reported but never started
    assert len([line for line in lines if " start " in line]) == runnable
    assert len([line for line in lines if " start " not in line]) == runnable
    assert lines[-1].startswith(f"[{len(tree)}/{len(tree)}]")
