"""``extends``: base templates merged into a scenario (maps merge deeply, lists replace)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from envctl.errors import ConfigError
from envctl.scenario import Category, DependencyMode, ServiceMode, load_scenario
from envctl.scenario.merge import deep_merge
from envctl.services.kafka.plugin import KafkaSpec

BASE = """
external_services:
  kafka:
    type: kafka
    image: base/kafka:1
    env: {A: "1", B: "2"}
    topics: [base_one, base_two]
timeout_profiles:
  kafka: {startup: 60, health_check: 90}
steps:
  - sleep: 1
"""


def test_maps_merge_deeply_and_lists_replace(write_scenario: Callable[..., Path]) -> None:
    write_scenario("base.yaml", BASE)
    child = write_scenario(
        "scenario_child.yaml",
        """
        name: child
        extends: base.yaml
        external_services:
          kafka:
            env: {B: "two", C: "3"}
            topics: [mine]
        timeout_profiles:
          kafka: {health_check: 5}
        """,
    )
    scenario = load_scenario(child, {})
    kafka = scenario.external_services["kafka"]
    assert kafka.type == "kafka"
    assert kafka.image == "base/kafka:1"
    assert kafka.env == {"A": "1", "B": "two", "C": "3"}
    assert [t.name for t in kafka.topics] == ["mine"]
    assert scenario.timeout_profiles["kafka"].startup == 60
    assert scenario.timeout_profiles["kafka"].health_check == 5
    assert scenario.steps == [{"sleep": 1}]  # not given by the child: inherited


def test_child_list_replaces_base_list_even_when_empty(write_scenario: Callable[..., Path]) -> None:
    write_scenario("base.yaml", BASE)
    child = write_scenario(
        "child.yaml",
        """
        name: child
        extends: base.yaml
        steps: []
        """,
    )
    assert load_scenario(child, {}).steps == []


def test_several_bases_apply_in_order_then_the_child(write_scenario: Callable[..., Path]) -> None:
    write_scenario(
        "one.yaml",
        """
        description: from one
        dependency_mode: real
        external_services:
          kafka: {type: kafka, image: one/kafka, env: {FROM_ONE: "1", WHO: one}}
        """,
    )
    write_scenario(
        "two.yaml",
        """
        description: from two
        external_services:
          kafka: {image: two/kafka, env: {FROM_TWO: "2", WHO: two}}
        """,
    )
    child = write_scenario(
        "child.yaml",
        """
        name: child
        extends: [one.yaml, two.yaml]
        external_services:
          kafka: {env: {WHO: child}}
        """,
    )
    scenario = load_scenario(child, {})
    kafka = scenario.external_services["kafka"]
    assert scenario.description == "from two"
    assert scenario.dependency_mode is DependencyMode.REAL
    assert kafka.image == "two/kafka"
    assert kafka.env == {"FROM_ONE": "1", "FROM_TWO": "2", "WHO": "child"}


def test_base_of_a_base_is_merged(write_scenario: Callable[..., Path], tmp_path: Path) -> None:
    write_scenario("bases/root.yaml", "description: root\nsnapshot: true\n")
    write_scenario("bases/mid.yaml", "extends: root.yaml\ndescription: mid\n")
    child = write_scenario("s/child.yaml", "name: child\nextends: ../bases/mid.yaml\n")
    scenario = load_scenario(child, {}, root=tmp_path)
    assert scenario.description == "mid"
    assert (scenario.snapshot.before, scenario.snapshot.after) == (True, True)


def test_child_name_wins_over_base_names(write_scenario: Callable[..., Path]) -> None:
    write_scenario("base.yaml", "name: base_name\ndescription: base\n")
    child = write_scenario("child.yaml", "extends: base.yaml\nname: child_name\n")
    scenario = load_scenario(child, {})
    assert scenario.name == "child_name"
    assert scenario.extends is None  # resolved away after loading


def test_base_name_is_not_inherited(write_scenario: Callable[..., Path]) -> None:
    write_scenario("base.yaml", "name: base_name\n")
    child = write_scenario("child.yaml", "extends: base.yaml\n")
    with pytest.raises(ConfigError) as info:
        load_scenario(child, {})
    (problem,) = info.value.problems
    assert (problem.path, problem.message) == ("name", "required key is missing")


def test_missing_name_is_located_in_the_child(
    write_scenario: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_scenario("base.yaml", "name: base_name\n")
    write_scenario("child.yaml", "extends: base.yaml\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        load_scenario("child.yaml", {})
    assert str(info.value) == "child.yaml:1: name: required key is missing"


def test_extends_cycle_is_reported(
    write_scenario: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_scenario("a.yaml", "name: a\nextends: b.yaml\n")
    write_scenario("b.yaml", "extends: a.yaml\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        load_scenario("a.yaml", {})
    root = tmp_path.resolve()
    assert str(info.value) == (
        f"b.yaml:1: extends: extends cycle: {root / 'a.yaml'} -> {root / 'b.yaml'}"
        f" -> {root / 'a.yaml'}"
    )
    assert len(info.value.problems) == 1


def test_extends_itself_is_a_cycle(write_scenario: Callable[..., Path]) -> None:
    path = write_scenario("a.yaml", "name: a\nextends: a.yaml\n")
    with pytest.raises(ConfigError) as info:
        load_scenario(path, {})
    assert "extends cycle: " in str(info.value)
    assert str(info.value).endswith(f"{path.resolve()} -> {path.resolve()}")


def test_extends_missing_file(write_scenario: Callable[..., Path], tmp_path: Path) -> None:
    path = write_scenario("c.yaml", "name: c\nextends: nope/missing.yaml\n")
    with pytest.raises(ConfigError) as info:
        load_scenario(path, {})
    looked = tmp_path.resolve() / "nope" / "missing.yaml"
    assert str(info.value) == (
        f"{path}:2: extends: base template 'nope/missing.yaml' does not exist (looked for {looked})"
    )


def test_extends_list_names_the_missing_entry(
    write_scenario: Callable[..., Path], tmp_path: Path
) -> None:
    write_scenario("base.yaml", "description: base\n")
    path = write_scenario(
        "c.yaml",
        """
        name: c
        extends:
          - base.yaml
          - gone.yaml
        dependency_mode: reel
        """,
    )
    with pytest.raises(ConfigError) as info:
        load_scenario(path, {})
    looked = tmp_path.resolve() / "gone.yaml"
    assert str(info.value).splitlines() == [
        f"{path}:4: extends[1]: base template 'gone.yaml' does not exist (looked for {looked})",
        f"{path}:5: dependency_mode: 'reel' is not valid; input should be 'real' or 'mock'",
    ]


def test_extends_must_be_a_path_or_list_of_paths(write_scenario: Callable[..., Path]) -> None:
    path = write_scenario("c.yaml", "name: c\nextends: {a: b}\n")
    with pytest.raises(ConfigError) as info:
        load_scenario(path, {})
    assert f"{path}:2: extends: must be a path or a list of paths" in str(info.value).splitlines()


def test_problem_in_base_is_reported_with_base_path_and_line(
    write_scenario: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_scenario(
        "base/kafka.yaml",
        """
        external_services:
          kafka:
            type: kafka
            imgae: apache/kafka:3.9.0
        """,
    )
    write_scenario(
        "integration/scenario_x.yaml",
        """
        name: x
        extends: ../base/kafka.yaml
        external_services:
          kafka:
            depends_on: [zk]
        """,
    )
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        load_scenario("integration/scenario_x.yaml", {})
    assert str(info.value).splitlines() == [
        "base/kafka.yaml:4: external_services.kafka.imgae: unknown key — did you mean 'image'?",
        "integration/scenario_x.yaml:5: external_services.kafka.depends_on[0]: service 'kafka'"
        " depends on 'zk', which is not defined",
    ]


def test_invalid_yaml_in_base_is_reported_in_base(
    write_scenario: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_scenario("base.yaml", "external_services:\n  kafka: {type: kafka\n")
    write_scenario("child.yaml", "name: c\nextends: base.yaml\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        load_scenario("child.yaml", {})
    assert str(info.value) == (
        "base.yaml:3: invalid YAML: expected ',' or '}', but got '<stream end>'"
    )


def test_unset_variable_in_base_is_reported_in_base(
    write_scenario: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_scenario(
        "base.yaml", "external_services:\n  kafka:\n    type: kafka\n    image: ${IMG}\n"
    )
    write_scenario("child.yaml", "name: c\nextends: base.yaml\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        load_scenario("child.yaml", {})
    assert str(info.value) == (
        "base.yaml:4: external_services.kafka.image: environment variable IMG is not set;"
        " set it or write ${IMG:-default}"
    )


def test_problem_in_base_uses_the_same_path_style_as_the_child(
    write_scenario: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = write_scenario("base.yaml", "external_services:\n  kafka:\n    type: kafka\n    x: 1\n")
    child = write_scenario("child.yaml", "name: c\nextends: base.yaml\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    with pytest.raises(ConfigError) as info:
        load_scenario(child, {})  # an absolute path
    assert str(info.value).startswith(f"{base}:4: external_services.kafka.x: unknown key")


def test_deep_merge_function() -> None:
    base = {"a": {"b": 1, "c": [1, 2]}, "d": 1}
    override = {"a": {"c": [3], "e": {"f": 1}}, "d": {"x": 1}}
    assert deep_merge(base, override) == {"a": {"b": 1, "c": [3], "e": {"f": 1}}, "d": {"x": 1}}
    assert base == {"a": {"b": 1, "c": [1, 2]}, "d": 1}  # inputs are not modified


def test_shipped_kafka_scenario_loads_with_merged_values(shipped_scenarios: Path) -> None:
    path = shipped_scenarios / "integration" / "scenario_kafka_real_basic.yaml"
    scenario = load_scenario(path, {})
    assert scenario.name == "kafka_real_basic"
    assert scenario.category is Category.INTEGRATION
    assert scenario.dependency_mode is DependencyMode.REAL
    assert scenario.cleanup_after is True
    assert (scenario.snapshot.before, scenario.snapshot.after) == (False, False)
    assert scenario.source == path.resolve()
    assert list(scenario.external_services) == ["kafka"]
    kafka = scenario.external_services["kafka"]
    assert isinstance(kafka, KafkaSpec)
    assert kafka.mode is ServiceMode.DOCKER  # from the base
    assert kafka.required is True  # from the base
    assert kafka.image is None
    assert [(t.name, t.partitions, t.replication_factor, t.config) for t in kafka.topics] == [
        ("orders", 3, 1, {"retention.ms": "600000"}),
        ("orders.dlq", 1, 1, {}),
    ]
    profile = scenario.timeout_profiles["kafka"]
    assert (profile.startup, profile.health_check, profile.setup, profile.publish_ack) == (
        60,
        90,
        30,
        10,
    )
    assert profile.seed is None
