"""Finding scenario files by ``name:``, by file name, and through ``index.yaml``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from envctl.errors import ConfigError, ScenarioNotFound
from envctl.scenario import find_scenario, list_scenarios, scenario_files
from envctl.scenario.discovery import ScenarioRef


@pytest.fixture
def tree(write_scenario: Callable[..., Path], tmp_path: Path) -> Path:
    """A scenarios tree with a base template and scenarios in two categories."""
    write_scenario("scenarios/base/kafka.yaml", "external_services: {kafka: {type: kafka}}\n")
    write_scenario("scenarios/unit/scenario_orders.yaml", "name: orders_mock\n")
    write_scenario("scenarios/integration/scenario_payments.yaml", "name: payments\n")
    write_scenario("scenarios/integration/deep/scenario_nameless.yaml", "description: x\n")
    return (tmp_path / "scenarios").resolve()


def test_scenario_files_finds_scenario_files_only(tree: Path) -> None:
    assert scenario_files(tree) == [
        tree / "integration/deep/scenario_nameless.yaml",
        tree / "integration/scenario_payments.yaml",
        tree / "unit/scenario_orders.yaml",
    ]


def test_list_scenarios_by_declared_name_else_file_name(tree: Path) -> None:
    assert list_scenarios(tree) == [
        ScenarioRef("nameless", tree / "integration/deep/scenario_nameless.yaml"),
        ScenarioRef("orders_mock", tree / "unit/scenario_orders.yaml"),
        ScenarioRef("payments", tree / "integration/scenario_payments.yaml"),
    ]


def test_find_by_name_field(tree: Path) -> None:
    assert find_scenario(tree, "orders_mock") == tree / "unit/scenario_orders.yaml"


def test_find_by_file_name(tree: Path) -> None:
    assert find_scenario(tree, "orders") == tree / "unit/scenario_orders.yaml"
    assert find_scenario(tree, "nameless") == tree / "integration/deep/scenario_nameless.yaml"


def test_find_by_path_to_a_file(tree: Path) -> None:
    path = tree / "integration/scenario_payments.yaml"
    assert find_scenario(tree, str(path)) == path


def test_not_found_with_did_you_mean(tree: Path) -> None:
    with pytest.raises(ScenarioNotFound) as info:
        find_scenario(tree, "paymnets")
    assert str(info.value) == (
        f"no scenario named 'paymnets' under {tree} — did you mean 'payments'? "
        "(see `envctl validate` for the list; --scenarios-dir changes where to look)"
    )
    assert info.value.exit_code == 2


def test_not_found_without_hint(tree: Path) -> None:
    with pytest.raises(ScenarioNotFound) as info:
        find_scenario(tree, "zzzzzz")
    assert str(info.value).startswith(f"no scenario named 'zzzzzz' under {tree} (see ")


def test_two_files_with_the_same_name(write_scenario: Callable[..., Path], tmp_path: Path) -> None:
    in_unit = write_scenario("s/unit/scenario_a.yaml", "name: same\n").resolve()
    in_mixed = write_scenario("s/mixed/scenario_b.yaml", "name: same\n").resolve()
    root = (tmp_path / "s").resolve()
    with pytest.raises(ConfigError) as info:
        find_scenario(root, "same")
    # files are sorted: mixed/ comes first, unit/ is the one reported as the clash
    assert str(info.value) == f"{in_unit}: name: scenario 'same' is also defined in {in_mixed}"
    with pytest.raises(ConfigError):
        list_scenarios(root)


def test_name_of_one_file_is_file_name_of_another(
    write_scenario: Callable[..., Path], tmp_path: Path
) -> None:
    a = write_scenario("s/scenario_a.yaml", "name: b\n").resolve()
    b = write_scenario("s/scenario_b.yaml", "name: c\n").resolve()
    with pytest.raises(ConfigError) as info:
        find_scenario((tmp_path / "s").resolve(), "b")
    assert str(info.value) == f"scenario 'b' matches several files: {a}, {b}; rename one"


def test_index_entries_are_scenarios_too(
    write_scenario: Callable[..., Path], tmp_path: Path
) -> None:
    listed = write_scenario("s/special/listed.yaml", "name: listed\n").resolve()
    write_scenario(
        "s/index.yaml",
        """
        scenarios:
          - name: listed
            path: special/listed.yaml
            category: mixed
            description: not named scenario_*.yaml
        """,
    )
    root = (tmp_path / "s").resolve()
    assert scenario_files(root) == [listed]
    assert find_scenario(root, "listed") == listed


def test_index_entry_pointing_at_a_missing_file(
    write_scenario: Callable[..., Path], tmp_path: Path
) -> None:
    write_scenario("s/scenario_ok.yaml", "name: ok\n")
    index = write_scenario(
        "s/index.yaml",
        """
        scenarios:
          - {name: ok, path: scenario_ok.yaml}
          - {name: gone, path: integration/scenario_gone.yaml}
        """,
    )
    root = (tmp_path / "s").resolve()
    with pytest.raises(ConfigError) as info:
        scenario_files(root)
    assert str(info.value) == (
        f"{root / 'index.yaml'}: scenarios[1].path: 'integration/scenario_gone.yaml' does not exist"
    )
    assert index.resolve() == root / "index.yaml"


def test_index_with_unknown_key(write_scenario: Callable[..., Path], tmp_path: Path) -> None:
    write_scenario("s/index.yaml", "scenarios:\n  - {name: a, path: a.yaml, tags: [x]}\n")
    root = (tmp_path / "s").resolve()
    with pytest.raises(ConfigError) as info:
        scenario_files(root)
    assert str(info.value) == f"{root / 'index.yaml'}:2: scenarios[0].tags: unknown key"


def test_missing_scenarios_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        scenario_files(tmp_path / "nope")
    assert str(info.value) == (
        f"scenarios directory {tmp_path / 'nope'} does not exist; "
        "pass --scenarios-dir or set ENVCTL_SCENARIOS_DIR"
    )


def test_unreadable_scenario_is_listed_by_file_name(
    write_scenario: Callable[..., Path], tmp_path: Path
) -> None:
    path = write_scenario("s/scenario_broken.yaml", "name: [unclosed\n").resolve()
    assert list_scenarios((tmp_path / "s").resolve()) == [ScenarioRef("broken", path)]


def test_shipped_tree_lists_the_kafka_scenario(shipped_scenarios: Path) -> None:
    names = [ref.name for ref in list_scenarios(shipped_scenarios)]
    assert "kafka_real_basic" in names
    assert (
        find_scenario(shipped_scenarios, "kafka_real_basic")
        == (shipped_scenarios / "integration" / "scenario_kafka_real_basic.yaml").resolve()
    )


def test_a_broken_index_does_not_hide_the_other_scenarios(
    write_scenario: Callable[..., Path], tmp_path: Path
) -> None:
    from envctl.errors import Problem
    from envctl.scenario.discovery import find_scenario

    write_scenario("s/index.yaml", "scenarios: [\n")
    write_scenario("s/unit/scenario_a.yaml", "name: a\n")
    write_scenario("s/unit/scenario_bomb.yaml", "a: &a [*a]\nname: [\n")
    root = (tmp_path / "s").resolve()
    problems: list[Problem] = []
    files = scenario_files(root, problems)
    assert root / "unit" / "scenario_a.yaml" in files
    assert problems and problems[0].file.endswith("index.yaml")
    assert find_scenario(root, "a") == root / "unit" / "scenario_a.yaml"


def test_a_huge_tree_is_refused_quickly(tmp_path: Path) -> None:
    from envctl.scenario import discovery

    for i in range(12):
        (tmp_path / f"d{i}").mkdir()
    original = discovery.MAX_FOLDERS
    discovery.MAX_FOLDERS = 10
    try:
        with pytest.raises(ConfigError, match="more than 10 folders"):
            scenario_files(tmp_path)
    finally:
        discovery.MAX_FOLDERS = original
