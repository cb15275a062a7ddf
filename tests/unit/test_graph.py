"""The dependency graph over a scenario's services."""

from __future__ import annotations

import pytest

from envctl.errors import ConfigError
from envctl.graph import MissingDependency, ServiceGraph, find_cycle, missing_dependencies

DIAMOND = {"kafka": [], "schema": ["kafka"], "connect": ["kafka"], "app": ["schema", "connect"]}


def test_diamond_levels() -> None:
    graph = ServiceGraph(DIAMOND)
    assert graph.levels() == [["kafka"], ["connect", "schema"], ["app"]]
    assert graph.services == ["kafka", "connect", "schema", "app"]


def test_chain_levels() -> None:
    graph = ServiceGraph({"c": ["b"], "b": ["a"], "a": []})
    assert graph.levels() == [["a"], ["b"], ["c"]]
    assert graph.services == ["a", "b", "c"]


def test_independent_services_share_one_level() -> None:
    assert ServiceGraph({"z": [], "a": [], "m": []}).levels() == [["a", "m", "z"]]


def test_empty_graph() -> None:
    graph = ServiceGraph({})
    assert graph.levels() == []
    assert graph.services == []


def test_dependencies_and_dependents() -> None:
    graph = ServiceGraph(DIAMOND)
    assert graph.dependencies("app") == ["connect", "schema"]
    assert graph.dependencies("kafka") == []
    assert graph.dependents("kafka") == ["connect", "schema"]
    assert graph.dependents("app") == []


def test_all_dependents_are_transitive() -> None:
    graph = ServiceGraph(DIAMOND)
    assert graph.all_dependents("kafka") == ["app", "connect", "schema"]
    assert graph.all_dependents("schema") == ["app"]
    assert graph.all_dependents("app") == []


def test_to_dot() -> None:
    assert ServiceGraph(DIAMOND).to_dot("diamond") == "\n".join(
        [
            'digraph "diamond" {',
            "  rankdir=LR;",
            '  "kafka";',
            '  "connect";',
            '  "schema";',
            '  "app";',
            '  "connect" -> "app";',
            '  "kafka" -> "connect";',
            '  "kafka" -> "schema";',
            '  "schema" -> "app";',
            "}",
        ]
    )


def test_to_dot_default_name_and_isolated_node() -> None:
    assert (
        ServiceGraph({"solo": []}).to_dot() == 'digraph "scenario" {\n  rankdir=LR;\n  "solo";\n}'
    )


@pytest.mark.parametrize(
    ("depends_on", "message"),
    [
        pytest.param({"a": ["b"], "b": ["a"]}, "dependency cycle: a -> b -> a", id="two"),
        pytest.param(
            {"a": ["b"], "b": ["c"], "c": ["a"]}, "dependency cycle: a -> b -> c -> a", id="three"
        ),
        pytest.param({"a": ["a"]}, "dependency cycle: a -> a", id="self"),
        pytest.param(
            {"app": ["kafak"]},
            "service 'app' depends on 'kafak', which is not defined",
            id="missing",
        ),
        pytest.param(
            {"a": ["x"], "b": ["c"], "c": ["b"]},
            "service 'a' depends on 'x', which is not defined; dependency cycle: b -> c -> b",
            id="missing-and-cycle",
        ),
    ],
)
def test_bad_graphs_raise_config_error_naming_the_problem(
    depends_on: dict[str, list[str]], message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        ServiceGraph(depends_on)
    assert str(info.value) == message
    assert info.value.exit_code == 2


def test_find_cycle_and_missing_dependencies() -> None:
    assert find_cycle(DIAMOND) is None
    assert find_cycle({"a": ["b"], "b": ["a"], "c": []}) == ["a", "b", "a"]
    assert missing_dependencies(DIAMOND) == []
    assert missing_dependencies({"a": ["b", "x"], "b": []}) == [MissingDependency("a", 1, "x")]
